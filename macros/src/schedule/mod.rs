//! `#[schedule("rate(5 minutes)")]` / `#[schedule("cron(0 12 * * ? *)", name = "...")]`:
//! [`parse`] the arguments → [`validate`] them with the function → [`expand`] the descriptor.

mod expand;
mod parse;
mod validate;

use proc_macro2::TokenStream;
use quote::quote;

use crate::errors::Errors;
use crate::handler;

/// Expands `#[schedule]`; errors become `compile_error!`s next to the unchanged function.
pub(crate) fn attribute(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let args = errors.take(parse::parse_args(attr));
    let mut func = match handler::parse_fn(item.clone(), "schedule") {
        Ok(func) => func,
        Err(error) => {
            errors.push(error);
            let errors = errors.to_compile_errors();
            return quote!(#errors #item);
        }
    };
    handler::take_other_handler_attributes(&mut func, "schedule", &mut errors);
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
