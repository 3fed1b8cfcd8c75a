//! The code `#[function]` generates next to the function.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::ItemFn;

use super::validate::FunctionSpec;
use crate::{handler, paths};

/// The descriptor type and its `FunctionDef` impl.
///
/// ```text
/// #[allow(non_camel_case_types, dead_code)]
/// #[doc(hidden)]
/// <vis> struct notify {}
/// impl ::portico::__private::FunctionDef for notify {
///     fn function() -> ::portico::__private::Function {
///         // Spanned at the user's types: a missing impl underlines the argument or return type.
///         ::portico::__private::assert_from_function::<Json<Input>>();
///         ::portico::__private::assert_into_function_result::<Result<Json<Value>, MyError>>();
///         ::portico::__private::Function {
///             name: "notify",
///             file: ::core::file!(),
///             line: ::core::line!(),
///             handler: |__inv: ::portico::__private::FunctionInvocation| {
///                 ::portico::__private::Box::pin(async move {
///                     let __arg0 = match ::portico::__private::extract_function::<Json<Input>>(&__inv) {
///                         ::core::result::Result::Ok(value) => value,
///                         ::core::result::Result::Err(error) => return ::core::result::Result::Err(error),
///                     };
///                     let __output = notify(__arg0).await;
///                     ::portico::__private::into_function_result(::core::convert::identity(__output))
///                 })
///             },
///         }
///     }
/// }
/// ```
pub(crate) fn expand(spec: &FunctionSpec) -> TokenStream {
    let site = Span::call_site();
    let FunctionSpec {
        vis, ident, name, ..
    } = spec;
    let function_def = paths::function_def(site);
    let function = paths::function(site);
    let invocation = paths::function_invocation(site);
    let boxed = paths::boxed(site);

    let handler::Extractions {
        mut assertions,
        extractions,
        bindings,
    } = handler::invocation_extractions(
        &spec.args,
        paths::assert_from_function,
        paths::extract_function,
    );
    let output = handler::output(
        spec.output.as_ref(),
        ident,
        paths::assert_into_function_result,
        paths::into_function_result,
        &mut assertions,
    );
    let inv = if spec.args.is_empty() {
        quote!(_)
    } else {
        quote!(__inv)
    };

    quote! {
        #[allow(non_camel_case_types, dead_code)]
        #[doc(hidden)]
        #vis struct #ident {}

        impl #function_def for #ident {
            fn function() -> #function {
                #(#assertions)*
                #function {
                    name: #name,
                    file: ::core::file!(),
                    line: ::core::line!(),
                    handler: |#inv: #invocation| {
                        #boxed::pin(async move {
                            #(#extractions)*
                            let __output = #ident(#(#bindings),*).await;
                            #output
                        })
                    },
                }
            }
        }
    }
}

/// What is emitted instead of the descriptor when the attribute has errors: the same type with
/// an impl that is never run (the build fails), so uses such as `functions![handler]` resolve
/// and add no errors of their own.
pub(crate) fn placeholder(func: &ItemFn) -> TokenStream {
    let site = Span::call_site();
    handler::placeholder(
        func,
        &paths::function_def(site),
        &format_ident!("function"),
        &paths::function(site),
    )
}
