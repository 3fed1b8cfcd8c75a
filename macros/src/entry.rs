//! The one pipeline of the entry-point handler kinds (`#[schedule]`, `#[function]` and the
//! event handlers): each is its own Lambda entry point selected by `PORTICO_HANDLER`, takes
//! extractors of one invocation type and returns one result trait's types. A kind is an
//! [`EntryKind`] table — its attribute, the words of its messages, its options, the runtime
//! items it expands to and a validator for what only it has — and [`attribute`] runs
//! parse → validate → expand for it.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Ident, ItemFn, LitStr, Token, Type, Visibility};

use crate::errors::Errors;
use crate::handler;
use crate::options::{self, RawOption, parse_options};

/// A positional string argument before the options (`#[schedule("rate(5 minutes)")]`).
pub(crate) struct Positional {
    /// What it is, in messages: "schedule expression".
    pub(crate) what: &'static str,
    /// How to write the attribute with it, in messages.
    pub(crate) example: &'static str,
}

/// The runtime items a kind expands to, all in `::portico::__private` (see `paths.rs`).
pub(crate) struct KindPaths {
    /// The trait the descriptor type implements (`ScheduleDef`).
    pub(crate) def: fn(Span) -> TokenStream,
    /// The descriptor struct (`Schedule`).
    pub(crate) descriptor: fn(Span) -> TokenStream,
    /// The trait's method returning the descriptor (`schedule`).
    pub(crate) method: &'static str,
    /// What the handler closure receives (`ScheduleInvocation`).
    pub(crate) invocation: fn(Span) -> TokenStream,
    /// Compile-time check that an argument type is an extractor of the kind.
    pub(crate) assert_from: fn(Span) -> TokenStream,
    /// Runs an argument's extractor.
    pub(crate) extract: fn(Span) -> TokenStream,
    /// Compile-time check that the return type is a result of the kind.
    pub(crate) assert_into: fn(Span) -> TokenStream,
    /// Converts the handler's return value.
    pub(crate) into: fn(Span) -> TokenStream,
}

/// What a kind's own validator sees: the positional argument (when the kind has one) and the
/// known options other than `name`, each at most once.
pub(crate) struct KindArgs<'a> {
    pub(crate) positional: Option<&'a LitStr>,
    pub(crate) options: Vec<&'a RawOption>,
}

/// One entry-point handler kind.
pub(crate) struct EntryKind {
    /// The attribute's name: `schedule`.
    pub(crate) attribute: &'static str,
    /// The handler in messages, after "a": "schedule handler".
    pub(crate) what: &'static str,
    /// The entry point in messages: "schedule" (→ "schedule name `x` must be …").
    pub(crate) noun: &'static str,
    /// What the entry-point name names besides the entry point: "the deployed rule".
    pub(crate) name_names: &'static str,
    /// A name in the `name = "..."` hint.
    pub(crate) name_example: &'static str,
    /// The positional argument, if the kind has one.
    pub(crate) positional: Option<Positional>,
    /// Every option the kind accepts, `name` included.
    pub(crate) options: &'static [&'static str],
    /// Whether the handler must be `async`.
    pub(crate) require_async: bool,
    pub(crate) paths: KindPaths,
    /// Checks what only this kind has and returns the descriptor's own fields (`expression:
    /// "rate(5 minutes)",`); `None` when something is wrong (recorded in the errors).
    pub(crate) validate: fn(&KindArgs<'_>, &mut Errors) -> Option<TokenStream>,
}

/// The arguments as written.
pub(crate) struct EntryArgs {
    pub(crate) positional: Option<LitStr>,
    pub(crate) options: Vec<RawOption>,
}

/// A validated handler, ready to expand.
pub(crate) struct EntrySpec {
    vis: Visibility,
    ident: Ident,
    pub(crate) is_async: bool,
    /// The entry-point name: the `name` option or the function's name.
    pub(crate) name: LitStr,
    /// The kind's own descriptor fields.
    fields: TokenStream,
    /// Argument types (the kind's extractors).
    pub(crate) args: Vec<Type>,
    /// The declared return type, unless it is `()` or mentions `impl Trait` (not nameable).
    pub(crate) output: Option<Type>,
}

/// Expands the attribute of `kind`; errors become `compile_error!`s next to the unchanged
/// function.
pub(crate) fn attribute(kind: &EntryKind, attr: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand_attribute(
        kind.attribute,
        parse_args(kind, attr),
        item,
        |args, func, errors| validate(kind, args, func, errors),
        |spec| expand(kind, spec),
        |func| placeholder(kind, func),
    )
}

/// Parses the arguments: the positional one when the kind has one, then `key = value, ...`.
pub(crate) fn parse_args(kind: &EntryKind, attr: TokenStream) -> syn::Result<EntryArgs> {
    let Some(positional) = &kind.positional else {
        let parser = Punctuated::<RawOption, Token![,]>::parse_terminated;
        return parser.parse2(attr).map(|options| EntryArgs {
            positional: None,
            options: options.into_iter().collect(),
        });
    };
    let parser = |input: ParseStream<'_>| {
        let Positional { what, example } = positional;
        if input.is_empty() {
            return Err(syn::Error::new(
                Span::call_site(),
                format!("`#[{}]` needs a {what}: {example}", kind.attribute),
            ));
        }
        if !input.peek(LitStr) {
            return Err(input.error(format!(
                "expected the {what} as a string literal: {example}"
            )));
        }
        let positional = input.parse()?;
        let options = parse_options(input)?;
        Ok(EntryArgs {
            positional: Some(positional),
            options,
        })
    };
    parser.parse2(attr)
}

/// Validates everything, recording every error; `None` when anything is wrong.
pub(crate) fn validate(
    kind: &EntryKind,
    args: Option<EntryArgs>,
    func: &ItemFn,
    errors: &mut Errors,
) -> Option<EntrySpec> {
    let what = kind.what;
    handler::check_signature(&func.sig, what, errors);
    let ident = &func.sig.ident;
    if kind.require_async && func.sig.asyncness.is_none() {
        errors.push(syn::Error::new_spanned(
            func.sig.fn_token,
            format!(
                "a {what} must be `async`: write `async fn {}(...)`",
                ident.unraw()
            ),
        ));
    }
    let args = args?;
    let known = options::known_options(&args.options, kind.options, kind.attribute, errors);
    let all_known = known.len() == args.options.len();
    let (names, others): (Vec<&RawOption>, Vec<&RawOption>) =
        known.into_iter().partition(|o| o.name == "name");
    let fields = (kind.validate)(
        &KindArgs {
            positional: args.positional.as_ref(),
            options: others,
        },
        errors,
    );
    if !all_known {
        return None;
    }
    let name = match names.first() {
        Some(option) => errors.take(options::str_value(option, kind.name_example))?,
        None => LitStr::new(&ident.unraw().to_string(), ident.span()),
    };
    check_name(kind, &name, errors)?;
    let arg_types = handler::arg_types(func)?;
    Some(EntrySpec {
        vis: func.vis.clone(),
        ident: ident.clone(),
        is_async: func.sig.asyncness.is_some(),
        name,
        fields: fields?,
        args: arg_types,
        output: handler::output_type(func),
    })
}

/// Entry-point names: the deployed function is named after them, and `api` is the HTTP one.
fn check_name(kind: &EntryKind, name: &LitStr, errors: &mut Errors) -> Option<()> {
    let value = name.value();
    let EntryKind {
        attribute, noun, ..
    } = kind;
    if value == "api" {
        errors.push(syn::Error::new(
            name.span(),
            format!(
                "`api` is the entry-point name of the app's HTTP function; give this {noun} \
                 another one: `#[{attribute}(name = \"...\")]`"
            ),
        ));
        return None;
    }
    if !handler::is_entry_point_name(&value) {
        errors.push(syn::Error::new(
            name.span(),
            format!(
                "{noun} name `{value}` must be 1 to 64 letters, digits, `-` or `_` (it names \
                 the entry point and {})",
                kind.name_names
            ),
        ));
        return None;
    }
    Some(())
}

/// The descriptor type and its impl of the kind's trait.
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
///             expression: "rate(5 minutes)",          // the kind's own fields
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
pub(crate) fn expand(kind: &EntryKind, spec: &EntrySpec) -> TokenStream {
    let site = Span::call_site();
    let EntrySpec {
        vis,
        ident,
        name,
        fields,
        ..
    } = spec;
    let paths = &kind.paths;
    let handler::Extractions {
        mut assertions,
        extractions,
        bindings,
    } = handler::invocation_extractions(&spec.args, paths.assert_from, paths.extract);
    let output = handler::output(
        spec.output.as_ref(),
        ident,
        paths.assert_into,
        paths.into,
        &mut assertions,
    );
    handler::Descriptor {
        vis,
        ident,
        def: (paths.def)(site),
        method: format_ident!("{}", paths.method),
        ty: (paths.descriptor)(site),
        fields: quote!(name: #name, #fields),
        param: if spec.args.is_empty() {
            quote!(_)
        } else {
            quote!(__inv)
        },
        param_ty: (paths.invocation)(site),
        assertions,
        extractions,
        call: handler::call(ident, &bindings, spec.is_async),
        output,
    }
    .expand()
}

/// What is emitted instead of the descriptor when the attribute has errors: the same type with
/// an impl that is never run (the build fails), so uses such as `schedules![handler]` resolve
/// and add no errors of their own.
fn placeholder(kind: &EntryKind, func: &ItemFn) -> TokenStream {
    let site = Span::call_site();
    handler::placeholder(
        func,
        &(kind.paths.def)(site),
        &format_ident!("{}", kind.paths.method),
        &(kind.paths.descriptor)(site),
    )
}

// The pipeline's tests run it for every kind, so they live beside the kinds, in the crate
// root's `entry_kinds_tests` (a test module here would make `entry` depend on its kinds).
