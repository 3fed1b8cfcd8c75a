//! Checks a route attribute against the function it is put on, and resolves what to generate.

use proc_macro2::Span;
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::{FnArg, Ident, ItemFn, Lit, LitBool, LitStr, Pat, Type, Visibility};

use super::RouteKind;
use super::parse::RouteArgs;
use crate::errors::Errors;
use crate::handler;
use crate::options::{self, RawOption};
use portico_spec::route_path::{RoutePath, parse_route_path};

/// The methods `#[route(METHOD, ...)]` accepts.
const METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "ANY",
];

/// The options every route attribute accepts.
const OPTIONS: [&str; 4] = ["api_key_required", "content_types", "cors", "name"];

/// Types that read like a path parameter; an argument of such a type that is not one is a
/// mistake rather than an extractor.
const SCALARS: [&str; 18] = [
    "String", "str", "bool", "char", "i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16",
    "u32", "u64", "u128", "usize", "f32", "f64",
];

/// A validated route, ready to expand.
pub(crate) struct RouteSpec {
    pub(crate) vis: Visibility,
    pub(crate) ident: Ident,
    pub(crate) is_async: bool,
    pub(crate) method: Method,
    pub(crate) path: LitStr,
    pub(crate) options: Options,
    pub(crate) args: Vec<Arg>,
    /// The declared return type, unless it is `()` or mentions `impl Trait` (not nameable).
    pub(crate) output: Option<Type>,
}

/// `#[route(ANY, ...)]` or one method, upper case.
pub(crate) enum Method {
    Any,
    One(Ident),
}

/// The options given, each at most once.
#[derive(Default)]
pub(crate) struct Options {
    pub(crate) api_key_required: Option<LitBool>,
    pub(crate) content_types: Option<Vec<LitStr>>,
    pub(crate) cors: Option<Cors>,
    pub(crate) name: Option<LitStr>,
}

/// The `cors = ...` option.
pub(crate) enum Cors {
    Enabled,
    Disabled,
    Origin(LitStr),
}

/// A handler argument and where its value comes from.
pub(crate) struct Arg {
    pub(crate) ty: Type,
    pub(crate) source: ArgSource,
}

pub(crate) enum ArgSource {
    /// The path parameter of this name (`FromStr`).
    PathParam(String),
    /// An extractor (`FromRequest`).
    Extractor,
}

/// Validates everything, recording every error; `None` when anything is wrong.
pub(crate) fn validate(
    kind: RouteKind,
    args: Option<RouteArgs>,
    func: &ItemFn,
    errors: &mut Errors,
) -> Option<RouteSpec> {
    handler::check_signature(&func.sig, "route handler", errors);
    let args = args?;

    let method = match kind {
        RouteKind::Shortcut(method) => Some(Method::One(Ident::new(method, Span::call_site()))),
        RouteKind::Route => args
            .method
            .as_ref()
            .and_then(|m| errors.take(validate_method(m))),
    };
    let route_path = errors.take(validate_path(&args.path));
    let options = validate_options(&args.options, &kind.attribute_name(), errors);
    let handler_args = classify_args(func, &args.path, route_path.as_ref(), errors);
    let output = handler::output_type(func);
    Some(RouteSpec {
        vis: func.vis.clone(),
        ident: func.sig.ident.clone(),
        is_async: func.sig.asyncness.is_some(),
        method: method?,
        path: args.path,
        options: options?,
        args: handler_args?,
        output,
    })
}

fn validate_method(method: &Ident) -> syn::Result<Method> {
    let name = method.unraw().to_string();
    match name.as_str() {
        "ANY" => Ok(Method::Any),
        _ if METHODS.contains(&name.as_str()) => Ok(Method::One(method.clone())),
        _ => {
            let upper = name.to_ascii_uppercase();
            let hint = if METHODS.contains(&upper.as_str()) {
                format!(" (methods are upper case: `{upper}`)")
            } else {
                String::new()
            };
            Err(syn::Error::new(
                method.span(),
                format!(
                    "unknown HTTP method `{name}`{hint}; use one of {}",
                    METHODS.join(", ")
                ),
            ))
        }
    }
}

fn validate_path(path: &LitStr) -> syn::Result<RoutePath> {
    let template = path.value();
    // The span is the whole literal (sub-spans are unstable), so the message quotes the
    // template and names the culprit.
    parse_route_path(&template).map_err(|e| {
        syn::Error::new(
            path.span(),
            format!("invalid route path `{template}`: {}", e.message),
        )
    })
}

fn validate_options(raw: &[RawOption], attribute: &str, errors: &mut Errors) -> Option<Options> {
    let mut options = Options::default();
    let mut ok = true;
    for option in options::known_options(raw, &OPTIONS, attribute, errors) {
        let result = match option.name.to_string().as_str() {
            "api_key_required" => {
                options::bool_value(option).map(|b| options.api_key_required = Some(b))
            }
            "content_types" => content_types(option).map(|t| options.content_types = Some(t)),
            "cors" => cors(option).map(|c| options.cors = Some(c)),
            _ => options::str_value(option, "get_user").and_then(|name| {
                if name.value().is_empty() {
                    Err(syn::Error::new(name.span(), "a route name can't be empty"))
                } else {
                    options.name = Some(name);
                    Ok(())
                }
            }),
        };
        ok &= errors.take(result).is_some();
    }
    (ok && raw.len() == count(&options)).then_some(options)
}

/// How many options are set (fewer than given means some were unknown or repeated).
fn count(options: &Options) -> usize {
    usize::from(options.api_key_required.is_some())
        + usize::from(options.content_types.is_some())
        + usize::from(options.cors.is_some())
        + usize::from(options.name.is_some())
}

fn content_types(option: &RawOption) -> syn::Result<Vec<LitStr>> {
    let types = options::str_array_value(option, "application/json")?;
    let mut errors = Errors::default();
    for ty in &types {
        let value = ty.value();
        let token = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "!#$&^_.+-*".contains(c))
        };
        let valid = match value.split_once('/') {
            Some((kind, sub)) => token(kind) && token(sub),
            None => false,
        };
        if !valid {
            let hint = if value.contains(';') {
                "; give the media type without parameters"
            } else {
                ""
            };
            errors.push(syn::Error::new(
                ty.span(),
                format!("`{value}` is not a media type like `application/json` or `text/*`{hint}"),
            ));
        }
    }
    errors.into_result().map(|()| types)
}

fn cors(option: &RawOption) -> syn::Result<Cors> {
    match options::lit(&option.value) {
        Some(Lit::Bool(b)) if b.value => Ok(Cors::Enabled),
        Some(Lit::Bool(_)) => Ok(Cors::Disabled),
        Some(Lit::Str(origin)) => {
            let value = origin.value();
            let host = value
                .strip_prefix("https://")
                .or_else(|| value.strip_prefix("http://"));
            let valid = value == "*"
                || host.is_some_and(|h| !h.is_empty() && !h.contains(['/', ' ', '?', '#']));
            if valid {
                Ok(Cors::Origin(origin.clone()))
            } else {
                Err(syn::Error::new(
                    origin.span(),
                    format!(
                        "`{value}` is not an origin: write the scheme and host, e.g. \
                         `\"https://example.com\"` (no path or trailing slash), or `\"*\"`"
                    ),
                ))
            }
        }
        _ => Err(syn::Error::new_spanned(
            &option.value,
            "`cors` takes `true`, `false` or an origin such as `\"https://example.com\"`",
        )),
    }
}

/// Binds arguments to path parameters by name; everything else is an extractor.
fn classify_args(
    func: &ItemFn,
    path: &LitStr,
    route_path: Option<&RoutePath>,
    errors: &mut Errors,
) -> Option<Vec<Arg>> {
    let template = path.value();
    let params: Vec<&str> = route_path.map(|p| p.params().collect()).unwrap_or_default();
    let mut bound: Vec<String> = Vec::new();
    let mut args = Vec::new();
    let mut ok = route_path.is_some();
    for input in &func.sig.inputs {
        let FnArg::Typed(arg) = input else {
            ok = false; // `self`, reported by the signature check.
            continue;
        };
        let ident = match &*arg.pat {
            Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => Some(&p.ident),
            _ => None,
        };
        let name = ident.map(|i| i.unraw().to_string());
        let ty = (*arg.ty).clone();
        match name {
            Some(name) if params.contains(&name.as_str()) => {
                if let Type::Reference(reference) = &ty {
                    let owned = if is_str(&reference.elem) {
                        "String".to_owned()
                    } else {
                        reference.elem.to_token_stream().to_string()
                    };
                    errors.push(syn::Error::new_spanned(
                        &ty,
                        format!(
                            "path parameter `{name}` can't borrow from the request; take it \
                             owned: `{name}: {owned}`"
                        ),
                    ));
                    ok = false;
                }
                bound.push(name.clone());
                args.push(Arg {
                    ty,
                    source: ArgSource::PathParam(name),
                });
            }
            Some(name) if route_path.is_some() && is_scalar(&ty) => {
                let hint = if params.is_empty() {
                    format!("the path has no parameters; add `{{{name}}}` to it")
                } else {
                    let list = params
                        .iter()
                        .map(|p| format!("`{p}`"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    format!(
                        "its parameters are {list}; rename the argument or add `{{{name}}}` to the path"
                    )
                };
                errors.push(syn::Error::new_spanned(
                    arg,
                    format!(
                        "argument `{name}` is not a path parameter of `{template}`: {hint} (query \
                         strings are read with `Query<T>`)"
                    ),
                ));
                ok = false;
            }
            _ => args.push(Arg {
                ty,
                source: ArgSource::Extractor,
            }),
        }
    }
    for param in &params {
        if !bound.iter().any(|b| b == param) {
            errors.push(syn::Error::new(
                path.span(),
                format!(
                    "path parameter `{param}` has no matching argument; add `{param}: String` \
                     (or another `FromStr` type) to `{}`",
                    func.sig.ident
                ),
            ));
            ok = false;
        }
    }
    ok.then_some(args)
}

/// `str`, with or without parentheses.
fn is_str(ty: &Type) -> bool {
    match ty {
        Type::Path(p) => p.qself.is_none() && p.path.is_ident("str"),
        Type::Paren(p) => is_str(&p.elem),
        Type::Group(g) => is_str(&g.elem),
        _ => false,
    }
}

/// Text, numbers, `bool`, `char`, or references to them.
fn is_scalar(ty: &Type) -> bool {
    match ty {
        Type::Reference(r) => is_scalar(&r.elem),
        Type::Paren(p) => is_scalar(&p.elem),
        Type::Group(g) => is_scalar(&g.elem),
        Type::Path(p) if p.qself.is_none() => p.path.segments.last().is_some_and(|last| {
            last.arguments.is_none() && SCALARS.iter().any(|s| last.ident == s)
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;
    use syn::parse_quote;

    fn check(kind: RouteKind, attr: proc_macro2::TokenStream, func: ItemFn) -> Vec<String> {
        let mut errors = Errors::default();
        let args = super::super::parse::parse_args(kind, attr).unwrap();
        let spec = validate(kind, Some(args), &func, &mut errors);
        assert_eq!(spec.is_some(), errors.is_empty());
        errors.messages()
    }

    #[test]
    fn binds_path_params_by_name() {
        let func: ItemFn = parse_quote! {
            async fn h(Json(body): Json<New>, mut id: u64, rest: String, q: Query<Q>) {}
        };
        let mut errors = Errors::default();
        let args = super::super::parse::parse_args(
            RouteKind::Shortcut("PUT"),
            quote!("/items/{id}/{rest+}"),
        )
        .unwrap();
        let spec = validate(RouteKind::Shortcut("PUT"), Some(args), &func, &mut errors).unwrap();
        let sources: Vec<String> = spec
            .args
            .iter()
            .map(|a| match &a.source {
                ArgSource::PathParam(p) => p.clone(),
                ArgSource::Extractor => "*".to_owned(),
            })
            .collect();
        assert_eq!(sources, ["*", "id", "rest", "*"]);
        assert!(spec.is_async);
        assert!(spec.output.is_none());
    }

    #[test]
    fn parameter_without_argument() {
        let messages = check(
            RouteKind::Shortcut("GET"),
            quote!("/users/{id}/posts/{post}"),
            parse_quote!(
                fn h(id: String) {}
            ),
        );
        assert_eq!(messages.len(), 1);
        assert!(
            messages[0]
                .starts_with("path parameter `post` has no matching argument; add `post: String`"),
            "{messages:?}"
        );
    }

    #[test]
    fn scalar_argument_that_is_not_a_parameter() {
        let messages = check(
            RouteKind::Shortcut("GET"),
            quote!("/users/{id}"),
            parse_quote!(
                fn h(id: String, page: u32, name: &str, j: Json<String>, (a, b): (u8, u8)) {}
            ),
        );
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(
            messages[0].starts_with("argument `page` is not a path parameter of `/users/{id}`")
        );
        assert!(messages[0].contains("parameters are `id`"));
        assert!(messages[1].starts_with("argument `name` is not"));
    }

    #[test]
    fn borrowed_path_parameter() {
        let messages = check(
            RouteKind::Shortcut("GET"),
            quote!("/users/{id}"),
            parse_quote!(
                fn h(id: &str) {}
            ),
        );
        assert_eq!(
            messages,
            ["path parameter `id` can't borrow from the request; take it owned: `id: String`"]
        );
    }

    #[test]
    fn methods() {
        let ok = |m: &str| validate_method(&Ident::new(m, Span::call_site())).is_ok();
        assert!(METHODS.iter().all(|m| ok(m)));
        let err = validate_method(&Ident::new("get", Span::call_site()))
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("unknown HTTP method `get` (methods are upper case: `GET`)"),
            "{err}"
        );
        assert!(
            err.contains("GET, POST, PUT, DELETE, PATCH, HEAD, OPTIONS, ANY"),
            "{err}"
        );
    }

    #[test]
    fn path_errors_quote_the_template() {
        let err = validate_path(&parse_quote!("/users/"))
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.starts_with("invalid route path `/users/`: a route path cannot end with `/`"),
            "{err}"
        );
        let err = validate_path(&parse_quote!("/a{b}"))
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("`/a{b}`: a parameter must be a whole segment"),
            "{err}"
        );
    }

    #[test]
    fn options_are_checked() {
        let messages = check(
            RouteKind::Shortcut("POST"),
            quote!(
                "/",
                api_key_required = "yes",
                content_types = ["json", "text/plain; charset=utf-8"],
                cors = "https://example.com/",
                name = "",
                cors = true,
                timeout = 3
            ),
            parse_quote!(
                fn h() {}
            ),
        );
        assert_eq!(messages.len(), 7, "{messages:?}");
        assert!(messages[0].starts_with("option `cors` is given twice"));
        assert!(messages[1].starts_with("unknown option `timeout` for `#[post]`; known options:"));
        assert!(messages[2].contains("takes `true` or `false`"));
        assert!(messages[3].contains("`json` is not a media type"));
        assert!(messages[4].contains("without parameters"));
        assert!(messages[5].contains("is not an origin"));
        assert!(messages[6].contains("can't be empty"));
    }

    #[test]
    fn good_options() {
        let messages = check(
            RouteKind::Route,
            quote!(
                ANY,
                "/",
                api_key_required = true,
                content_types = ["application/json", "text/*"],
                cors = "https://example.com",
                name = "home",
            ),
            parse_quote!(
                fn h() -> impl IntoResponse {}
            ),
        );
        assert!(messages.is_empty(), "{messages:?}");
    }
}
