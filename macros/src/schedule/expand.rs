//! The code `#[schedule]` generates next to the function.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::ItemFn;
use syn::spanned::Spanned;

use super::validate::ScheduleSpec;
use crate::{handler, paths};

/// The descriptor type and its `ScheduleDef` impl.
///
/// ```text
/// #[allow(non_camel_case_types, dead_code)]
/// #[doc(hidden)]
/// <vis> struct cleanup {}
/// impl ::portico::__private::ScheduleDef for cleanup {
///     fn schedule() -> ::portico::__private::Schedule {
///         // Spanned at the user's types: a missing impl underlines the argument or return type.
///         ::portico::__private::assert_from_schedule::<ScheduledEvent>();
///         ::portico::__private::assert_into_schedule_result::<Result<(), Error>>();
///         ::portico::__private::Schedule {
///             name: "cleanup",
///             expression: "rate(5 minutes)",
///             file: ::core::file!(),
///             line: ::core::line!(),
///             handler: |__inv: ::portico::__private::ScheduleInvocation| {
///                 ::portico::__private::Box::pin(async move {
///                     let __arg0 = match ::portico::__private::extract_schedule::<ScheduledEvent>(&__inv) {
///                         ::core::result::Result::Ok(value) => value,
///                         ::core::result::Result::Err(error) => return ::core::result::Result::Err(error),
///                     };
///                     let __output = cleanup(__arg0).await;
///                     ::portico::__private::into_schedule_result(::core::convert::identity(__output))
///                 })
///             },
///         }
///     }
/// }
/// ```
pub(crate) fn expand(spec: &ScheduleSpec) -> TokenStream {
    let site = Span::call_site();
    let ScheduleSpec {
        vis,
        ident,
        name,
        expression,
        ..
    } = spec;
    let schedule_def = paths::schedule_def(site);
    let schedule = paths::schedule(site);
    let invocation = paths::schedule_invocation(site);
    let boxed = paths::boxed(site);

    let mut assertions = Vec::new();
    let mut extractions = Vec::new();
    let mut bindings = Vec::new();
    for (i, ty) in spec.args.iter().enumerate() {
        let binding = format_ident!("__arg{i}");
        // Spanned at the type, in the same body as the call: a missing impl is reported once,
        // on the user's type.
        let span = ty.span();
        let assert = paths::assert_from_schedule(span);
        let extract = paths::extract_schedule(span);
        assertions.push(quote_spanned!(span=> #assert::<#ty>();));
        extractions.push(quote! {
            let #binding = match #extract::<#ty>(&__inv) {
                ::core::result::Result::Ok(value) => value,
                ::core::result::Result::Err(error) => return ::core::result::Result::Err(error),
            };
        });
        bindings.push(binding);
    }
    let (output_span, output) = match &spec.output {
        Some(ty) => {
            let span = ty.span();
            let assert = paths::assert_into_schedule_result(span);
            assertions.push(quote_spanned!(span=> #assert::<#ty>();));
            (span, handler::output_spanned_as(ty))
        }
        None => (ident.span(), quote!(__output)),
    };
    let into_result = paths::into_schedule_result(output_span);
    let call = if spec.is_async {
        quote!(#ident(#(#bindings),*).await)
    } else {
        quote!(#ident(#(#bindings),*))
    };
    let inv = if spec.args.is_empty() {
        quote!(_)
    } else {
        quote!(__inv)
    };

    quote! {
        #[allow(non_camel_case_types, dead_code)]
        #[doc(hidden)]
        #vis struct #ident {}

        impl #schedule_def for #ident {
            fn schedule() -> #schedule {
                #(#assertions)*
                #schedule {
                    name: #name,
                    expression: #expression,
                    file: ::core::file!(),
                    line: ::core::line!(),
                    handler: |#inv: #invocation| {
                        #boxed::pin(async move {
                            #(#extractions)*
                            let __output = #call;
                            #into_result(#output)
                        })
                    },
                }
            }
        }
    }
}

/// What is emitted instead of the descriptor when the attribute has errors: the same type with
/// an impl that is never run (the build fails), so uses such as `schedules![handler]` resolve
/// and add no errors of their own.
pub(crate) fn placeholder(func: &ItemFn) -> TokenStream {
    let site = Span::call_site();
    handler::placeholder(
        func,
        &paths::schedule_def(site),
        &format_ident!("schedule"),
        &paths::schedule(site),
    )
}
