//! `#[schedule("rate(5 minutes)")]` / `#[schedule("cron(0 12 * * ? *)", name = "...")]`:
//! [`parse`] the arguments → [`validate`] them with the function → [`expand`] the descriptor.

mod expand;
mod parse;
mod validate;

use proc_macro2::TokenStream;

use crate::handler;

/// Expands `#[schedule]`; errors become `compile_error!`s next to the unchanged function.
pub(crate) fn attribute(attr: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand_attribute(
        "schedule",
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
            quote!("rate(5 minutes)"),
            quote!(
                async fn cleanup(event: ScheduledEvent) {}
            ),
        )
        .to_string();
        assert!(!out.contains("compile_error"), "{out}");
        assert!(
            out.contains(":: portico :: __private :: ScheduleDef for cleanup"),
            "{out}"
        );
        assert!(out.contains("name : \"cleanup\""), "{out}");
    }

    #[test]
    fn errors_keep_the_function() {
        let out = attribute(
            quote!("rate(5 minute)", name = "a b"),
            quote!(
                fn cleanup<T>() {}
            ),
        )
        .to_string();
        assert_eq!(out.matches("compile_error").count(), 3, "{out}");
        assert!(out.contains("fn cleanup < T > ()"), "{out}");
    }
}
