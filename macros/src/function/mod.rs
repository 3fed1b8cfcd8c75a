//! `#[function]` / `#[function(name = "...")]`: [`parse`] the arguments → [`validate`] them
//! with the function → [`expand`] the descriptor.

mod expand;
mod parse;
mod validate;

use proc_macro2::TokenStream;

use crate::handler;

/// Expands `#[function]`; errors become `compile_error!`s next to the unchanged function.
pub(crate) fn attribute(attr: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand_attribute(
        "function",
        parse::parse_args(attr),
        item,
        validate::validate,
        expand::expand,
        expand::placeholder,
    )
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    #[test]
    fn success() {
        let out = attribute(
            quote!(),
            quote!(
                async fn notify(Json(input): Json<Input>) -> Json<Value> {}
            ),
        )
        .to_string();
        assert!(!out.contains("compile_error"), "{out}");
        assert!(
            out.contains(":: portico :: __private :: FunctionDef for notify"),
            "{out}"
        );
        assert!(out.contains("name : \"notify\""), "{out}");
    }

    #[test]
    fn errors_keep_the_function() {
        let out = attribute(
            quote!(name = "a b"),
            quote!(
                fn notify<T>() {}
            ),
        )
        .to_string();
        // Not async, generic, bad name.
        assert_eq!(out.matches("compile_error").count(), 3, "{out}");
        assert!(out.contains("fn notify < T > ()"), "{out}");
    }
}
