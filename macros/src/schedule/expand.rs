//! The code `#[schedule]` generates next to the function.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::ItemFn;

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

    let handler::Extractions {
        mut assertions,
        extractions,
        bindings,
    } = handler::invocation_extractions(
        &spec.args,
        paths::assert_from_schedule,
        paths::extract_schedule,
    );
    let output = handler::output(
        spec.output.as_ref(),
        ident,
        paths::assert_into_schedule_result,
        paths::into_schedule_result,
        &mut assertions,
    );
    let call = handler::call(ident, &bindings, spec.is_async);
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
                            #output
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
