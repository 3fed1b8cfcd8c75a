//! `#[function]` / `#[function(name = "...")]`: [`parse`] the arguments → [`validate`] them
//! with the function → [`expand`] the descriptor.

mod expand;
mod parse;
mod validate;

use proc_macro2::TokenStream;
use quote::quote;

use crate::errors::Errors;
use crate::handler;

/// Expands `#[function]`; errors become `compile_error!`s next to the unchanged function.
pub(crate) fn attribute(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let args = errors.take(parse::parse_args(attr));
    let mut func = match handler::parse_fn(item.clone(), "function") {
        Ok(func) => func,
        Err(error) => {
            errors.push(error);
            let errors = errors.to_compile_errors();
            return quote!(#errors #item);
        }
    };
    handler::take_other_handler_attributes(&mut func, "function", &mut errors);
    let spec = validate::validate(args, &func, &mut errors);
    match spec {
        Some(spec) if errors.is_empty() => {
            let descriptor = expand::expand(&spec);
            quote!(#item #descriptor)
        }
        _ => {
            let errors = errors.to_compile_errors();
            let placeholder = expand::placeholder(&func);
            quote!(#errors #func #placeholder)
        }
    }
}

#[cfg(test)]
mod tests {
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
