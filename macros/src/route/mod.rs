//! `#[route(METHOD, "/path", ...)]` and its shortcuts `#[get("/path", ...)]`, …:
//! [`parse`] the arguments → [`validate`] them with the function → [`expand`] the descriptor.

mod expand;
mod parse;
mod validate;

use proc_macro2::TokenStream;

use crate::handler;

/// Which attribute is being expanded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RouteKind {
    /// `#[route(METHOD, "/path", ...)]`.
    Route,
    /// `#[get("/path", ...)]` and friends; holds the method, upper case.
    Shortcut(&'static str),
}

impl RouteKind {
    /// The attribute's name, for messages.
    pub(crate) fn attribute_name(self) -> String {
        match self {
            Self::Route => "route".to_owned(),
            Self::Shortcut(method) => method.to_ascii_lowercase(),
        }
    }
}

/// Expands a route attribute; errors become `compile_error!`s next to the unchanged function.
pub(crate) fn attribute(kind: RouteKind, attr: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand_attribute(
        &kind.attribute_name(),
        parse::parse_args(kind, attr),
        item,
        |args, func, errors| validate::validate(kind, args, func, errors),
        expand::expand,
        expand::placeholder,
    )
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    fn expand_to_string(kind: RouteKind, attr: TokenStream, item: TokenStream) -> String {
        attribute(kind, attr, item).to_string()
    }

    #[test]
    fn success_keeps_the_function_and_adds_a_descriptor() {
        let out = expand_to_string(
            RouteKind::Shortcut("GET"),
            quote!("/users/{id}"),
            quote!(
                async fn get_user(id: String) -> String {
                    id
                }
            ),
        );
        assert!(!out.contains("compile_error"), "{out}");
        assert!(out.starts_with("async fn get_user"), "{out}");
        assert!(out.contains("struct get_user { }"), "{out}");
        assert!(
            out.contains(":: portico :: __private :: RouteDef for get_user"),
            "{out}"
        );
    }

    #[test]
    fn errors_are_reported_together_with_the_function() {
        let out = expand_to_string(
            RouteKind::Route,
            quote!(FETCH, "/users/{id}", colour = true),
            quote!(
                async fn get_user<T>(name: String) {}
            ),
        );
        assert_eq!(out.matches("compile_error").count(), 5, "{out}");
        assert!(
            out.contains("async fn get_user < T > (name : String)"),
            "{out}"
        );
    }

    #[test]
    fn non_functions_are_re_emitted() {
        let out = expand_to_string(
            RouteKind::Shortcut("GET"),
            quote!("/"),
            quote!(
                struct S;
            ),
        );
        assert!(out.contains("compile_error"), "{out}");
        assert!(out.ends_with("struct S ;"), "{out}");
    }
}
