//! The code a route attribute generates next to the function.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{ItemFn, LitStr};

use super::validate::{ArgSource, Cors, Method, RouteSpec};
use crate::{handler, paths};

/// The descriptor type and its `RouteDef` impl.
///
/// ```text
/// #[allow(non_camel_case_types, dead_code)]
/// #[doc(hidden)]
/// <vis> struct get_user {}
/// impl ::portico::__private::RouteDef for get_user {
///     fn route() -> ::portico::__private::Route {
///         // Spanned at the user's types: a missing impl underlines the argument or return type.
///         ::portico::__private::assert_path_param::<String>();
///         ::portico::__private::assert_from_request::<Json<New>>();
///         ::portico::__private::assert_into_response::<R>();
///         ::portico::__private::Route {
///             method: ::portico::__private::RouteMethod::One(::portico::__private::http::Method::GET),
///             path: "/users/{id}",
///             handler_name: "get_user",
///             options: ::portico::__private::RouteOptions::new(),   // + one call per option
///             file: ::core::file!(),
///             line: ::core::line!(),
///             handler: |mut __req: ::portico::__private::Request| {
///                 ::portico::__private::Box::pin(async move {
///                     let __arg0 = match ::portico::__private::path_param::<String>(&__req, "id") {
///                         ::core::result::Result::Ok(value) => value,
///                         ::core::result::Result::Err(response) => return response,
///                     };
///                     let __arg1 = match ::portico::__private::extract::<Json<New>>(&mut __req) { … };
///                     let __output = get_user(__arg0, __arg1).await;
///                     ::portico::__private::into_response(::core::convert::identity(__output))
///                 })
///             },
///         }
///     }
/// }
/// ```
pub(crate) fn expand(spec: &RouteSpec) -> TokenStream {
    let site = Span::call_site();
    let RouteSpec { vis, ident, .. } = spec;
    let route_def = paths::route_def(site);
    let route = paths::route(site);
    let request = paths::request(site);

    let route_method = paths::route_method(site);
    let method = match &spec.method {
        Method::Any => quote!(#route_method::Any),
        Method::One(m) => {
            let http_method = paths::http_method(site);
            quote!(#route_method::One(#http_method::#m))
        }
    };
    let options = options(spec);
    let path = &spec.path;
    let handler_name = LitStr::new(&ident.unraw().to_string(), ident.span());

    let mut assertions = Vec::new();
    let mut extractions = Vec::new();
    let mut bindings = Vec::new();
    for (i, arg) in spec.args.iter().enumerate() {
        let binding = format_ident!("__arg{i}");
        let ty = &arg.ty;
        // The assertion and the call are both spanned at the type and live in the same body, so
        // a missing impl is reported once, on the user's type. (The assertions are statements,
        // not `const _` items: a const is a separate body and its error would not be merged
        // with the call's.)
        let span = ty.span();
        let (assert, call) = match &arg.source {
            ArgSource::PathParam(name) => {
                let assert = paths::assert_path_param(span);
                let path_param = paths::path_param(span);
                (
                    assert,
                    quote_spanned!(span=> #path_param::<#ty>(&__req, #name)),
                )
            }
            ArgSource::Extractor => {
                let assert = paths::assert_from_request(span);
                let extract = paths::extract(span);
                (assert, quote_spanned!(span=> #extract::<#ty>(&mut __req)))
            }
        };
        assertions.push(quote_spanned!(span=> #assert::<#ty>();));
        extractions.push(quote! {
            let #binding = match #call {
                ::core::result::Result::Ok(value) => value,
                ::core::result::Result::Err(response) => return response,
            };
        });
        bindings.push(binding);
    }

    let output = handler::output(
        spec.output.as_ref(),
        ident,
        paths::assert_into_response,
        paths::into_response,
        &mut assertions,
    );
    let call = handler::call(ident, &bindings, spec.is_async);
    let req = if spec
        .args
        .iter()
        .any(|a| matches!(a.source, ArgSource::Extractor))
    {
        quote!(mut __req)
    } else if spec.args.is_empty() {
        quote!(_)
    } else {
        quote!(__req)
    };

    handler::Descriptor {
        vis,
        ident,
        def: route_def,
        method: format_ident!("route"),
        ty: route,
        fields: quote! {
            method: #method,
            path: #path,
            handler_name: #handler_name,
            options: #options,
        },
        param: req,
        param_ty: request,
        assertions,
        extractions,
        call,
        output,
    }
    .expand()
}

/// `RouteOptions::new()` followed by one builder call per option given.
fn options(spec: &RouteSpec) -> TokenStream {
    let site = Span::call_site();
    let route_options = paths::route_options(site);
    let mut out = quote!(#route_options::new());
    let options = &spec.options;
    if let Some(yes) = &options.api_key_required {
        out.extend(quote!(.api_key_required(#yes)));
    }
    if let Some(types) = &options.content_types {
        out.extend(quote!(.content_types(&[#(#types),*])));
    }
    if let Some(cors) = &options.cors {
        let route_cors = paths::route_cors(site);
        let value = match cors {
            Cors::Enabled => quote!(#route_cors::Enabled),
            Cors::Disabled => quote!(#route_cors::Disabled),
            Cors::Origin(origin) => quote!(#route_cors::Origin(#origin)),
        };
        out.extend(quote!(.cors(#value)));
    }
    if let Some(name) = &options.name {
        out.extend(quote!(.name(#name)));
    }
    out
}

/// What is emitted instead of the descriptor when the attribute has errors: the same type with
/// an impl that is never run (the build fails), so uses such as `routes![handler]` resolve and
/// add no errors of their own.
pub(crate) fn placeholder(func: &ItemFn) -> TokenStream {
    let site = Span::call_site();
    handler::placeholder(
        func,
        &paths::route_def(site),
        &format_ident!("route"),
        &paths::route(site),
    )
}
