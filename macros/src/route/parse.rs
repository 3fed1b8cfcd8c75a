//! The syntax of the route attributes' arguments: `METHOD, "/path", key = value, ...`.

use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::{Ident, LitStr, Token};

use super::RouteKind;
use crate::options::{RawOption, parse_options};

/// The arguments as written.
pub(crate) struct RouteArgs {
    /// The method of `#[route(METHOD, ...)]`; `None` for the shortcuts.
    pub(crate) method: Option<Ident>,
    pub(crate) path: LitStr,
    pub(crate) options: Vec<RawOption>,
}

/// Parses the arguments of a route attribute.
pub(crate) fn parse_args(kind: RouteKind, attr: TokenStream) -> syn::Result<RouteArgs> {
    let name = kind.attribute_name();
    let example = match kind {
        RouteKind::Route => "#[route(GET, \"/users/{id}\")]".to_owned(),
        RouteKind::Shortcut(_) => format!("#[{name}(\"/users/{{id}}\")]"),
    };
    let parser = |input: ParseStream<'_>| {
        if input.is_empty() {
            return Err(syn::Error::new(
                Span::call_site(),
                format!("`#[{name}]` needs a path: `{example}`"),
            ));
        }
        let method = match kind {
            RouteKind::Route => {
                if !input.peek(Ident::peek_any) {
                    return Err(input.error(format!("expected the HTTP method first: `{example}`")));
                }
                let method = Ident::parse_any(input)?;
                if !input.peek(Token![,]) {
                    return Err(input.error(format!(
                        "expected `,` and the path after the method: `{example}`"
                    )));
                }
                input.parse::<Token![,]>()?;
                Some(method)
            }
            RouteKind::Shortcut(_) => None,
        };
        if !input.peek(LitStr) {
            let hint = match kind {
                RouteKind::Shortcut(method) if input.peek(Ident::peek_any) => {
                    format!(
                        " (`#[{name}]` is already {method}; `#[route(METHOD, ...)]` takes a method)"
                    )
                }
                _ => String::new(),
            };
            return Err(input.error(format!(
                "expected the route path as a string literal: `{example}`{hint}"
            )));
        }
        let path = input.parse()?;
        let options = parse_options(input)?;
        Ok(RouteArgs {
            method,
            path,
            options,
        })
    };
    parser.parse2(attr)
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn error(kind: RouteKind, attr: TokenStream) -> String {
        match parse_args(kind, attr) {
            Ok(_) => panic!("parsed"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn route_arguments() {
        let args = parse_args(
            RouteKind::Route,
            quote!(POST, "/users", name = "create", cors = true,),
        )
        .unwrap();
        assert_eq!(args.method.unwrap(), "POST");
        assert_eq!(args.path.value(), "/users");
        assert_eq!(args.options.len(), 2);
        assert_eq!(args.options[1].name, "cors");
    }

    #[test]
    fn shortcut_arguments() {
        let args = parse_args(RouteKind::Shortcut("GET"), quote!("/")).unwrap();
        assert!(args.method.is_none());
        assert!(args.options.is_empty());
    }

    #[test]
    fn syntax_errors() {
        assert!(error(RouteKind::Shortcut("GET"), quote!()).contains("needs a path"));
        assert!(error(RouteKind::Route, quote!("/x")).contains("expected the HTTP method first"));
        assert!(error(RouteKind::Route, quote!(GET "/x")).contains("expected `,`"));
        assert!(error(RouteKind::Shortcut("GET"), quote!(GET, "/x")).contains("is already GET"));
        assert!(error(RouteKind::Shortcut("GET"), quote!(/ x)).contains("string literal"));
        assert!(error(RouteKind::Shortcut("GET"), quote!("/x", cors)).contains("`cors = value`"));
        assert!(
            error(RouteKind::Shortcut("GET"), quote!("/x" cors = true)).contains("expected `,`")
        );
    }
}
