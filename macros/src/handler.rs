//! What every handler attribute checks on the function it is put on.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{Attribute, FnArg, ItemFn, ReturnType, Signature, Type};

use crate::errors::Errors;

/// The attributes that turn a function into a handler; one per function.
const HANDLER_ATTRIBUTES: [&str; 15] = [
    "route",
    "get",
    "post",
    "put",
    "delete",
    "patch",
    "head",
    "options",
    "schedule",
    "function",
    "on_sqs_message",
    "on_sns_message",
    "on_s3_event",
    "on_event",
    "on_dynamodb_record",
];

/// Parses the item an attribute is put on, which must be a function.
pub(crate) fn parse_fn(item: TokenStream, attribute: &str) -> syn::Result<ItemFn> {
    syn::parse2::<ItemFn>(item.clone()).map_err(|error| {
        let what = match syn::parse2::<syn::Item>(item.clone()) {
            Ok(syn::Item::Struct(_)) => "a struct",
            Ok(syn::Item::Enum(_)) => "an enum",
            Ok(syn::Item::Impl(_)) => "an impl block",
            Ok(syn::Item::Mod(_)) => "a module",
            Ok(syn::Item::Const(_) | syn::Item::Static(_)) => "a constant",
            Ok(syn::Item::Verbatim(_)) | Err(_) => return error,
            Ok(_) => "this item",
        };
        syn::Error::new_spanned(
            &item,
            format!(
                "`#[{attribute}]` goes on a function, not on {what}: \
                 `#[{attribute}(...)] async fn handler(...) -> ... {{ ... }}`"
            ),
        )
    })
}

/// Checks what no handler may have: generics, `self`, variadics, `unsafe`, `impl Trait`
/// arguments. `what` names the handler kind in messages ("route handler").
pub(crate) fn check_signature(sig: &Signature, what: &str, errors: &mut Errors) {
    if !sig.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &sig.generics,
            format!(
                "a {what} can't be generic: the framework calls it with concrete types; remove \
                 the type parameters (share values with `State<T>`)"
            ),
        ));
    } else if let Some(clause) = &sig.generics.where_clause {
        errors.push(syn::Error::new_spanned(
            clause,
            format!("a {what} can't have a `where` clause"),
        ));
    }
    if let Some(unsafety) = &sig.unsafety {
        errors.push(syn::Error::new_spanned(
            unsafety,
            format!("a {what} can't be `unsafe`: the framework calls it from safe code"),
        ));
    }
    if let Some(variadic) = &sig.variadic {
        errors.push(syn::Error::new_spanned(
            variadic,
            format!("a {what} can't be variadic"),
        ));
    }
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(receiver) => errors.push(syn::Error::new_spanned(
                receiver,
                format!(
                    "a {what} is a free function and can't take `self`; move it out of the \
                     `impl` block and share values with `State<T>`"
                ),
            )),
            FnArg::Typed(arg) if contains_impl_trait(&arg.ty) => {
                errors.push(syn::Error::new_spanned(
                    &arg.ty,
                    format!(
                        "a {what}'s argument types must be concrete: an `impl Trait` argument \
                         makes the function generic"
                    ),
                ));
            }
            FnArg::Typed(_) => {}
        }
    }
}

/// Whether `ty` mentions `impl Trait` anywhere (such types can't be named outside the function).
pub(crate) fn contains_impl_trait(ty: &Type) -> bool {
    fn scan(tokens: TokenStream) -> bool {
        tokens.into_iter().any(|token| match token {
            TokenTree::Ident(ident) => ident == "impl",
            TokenTree::Group(group) => scan(group.stream()),
            _ => false,
        })
    }
    scan(ty.to_token_stream())
}

/// The expression `__output` (a local the generated handler binds to the function's result),
/// written so that its span covers exactly the tokens of the return type `ty`.
///
/// Passed to `into_response` / `into_schedule_result`, a missing impl is then reported on the
/// same span as the assertion on the return type, and rustc reports it once instead of twice.
/// (One token cannot span a range on stable, but a call can: the callee takes the first token's
/// span and the parentheses the last one's.)
pub(crate) fn output_spanned_as(ty: &Type) -> TokenStream {
    let tokens: Vec<TokenTree> = ty.to_token_stream().into_iter().collect();
    let (Some(first), Some(last)) = (tokens.first(), tokens.last()) else {
        return quote::quote!(__output);
    };
    let (first, last) = (first.span(), last.span());
    let mut args = proc_macro2::Group::new(
        proc_macro2::Delimiter::Parenthesis,
        quote::quote_spanned!(first=> __output),
    );
    args.set_span(last);
    quote::quote_spanned!(first=> ::core::convert::identity #args)
}

/// Reports every handler attribute left on `func` (one attribute per function) and removes
/// them, so the function can be re-emitted without them generating a clashing descriptor.
pub(crate) fn take_other_handler_attributes(
    func: &mut ItemFn,
    attribute: &str,
    errors: &mut Errors,
) {
    let (others, kept): (Vec<Attribute>, Vec<Attribute>) = std::mem::take(&mut func.attrs)
        .into_iter()
        .partition(is_handler_attribute);
    func.attrs = kept;
    for other in others {
        errors.push(syn::Error::new_spanned(
            &other,
            format!(
                "a function can carry only one route, schedule or function attribute, and this one \
                 already has `#[{attribute}]`; write a second function for this one (it may call the \
                 first)"
            ),
        ));
    }
}

fn is_handler_attribute(attr: &Attribute) -> bool {
    let segments = &attr.path().segments;
    let Some(last) = segments.last() else {
        return false;
    };
    let in_portico = match segments.len() {
        1 => true,
        2 => segments[0].ident == "portico",
        _ => false,
    };
    in_portico && HANDLER_ATTRIBUTES.iter().any(|name| last.ident == name)
}

/// The argument types of `func`; `None` when it takes `self` (which [`check_signature`]
/// reports).
pub(crate) fn arg_types(func: &ItemFn) -> Option<Vec<Type>> {
    func.sig
        .inputs
        .iter()
        .map(|input| match input {
            FnArg::Typed(arg) => Some((*arg.ty).clone()),
            FnArg::Receiver(_) => None,
        })
        .collect()
}

/// The declared return type of `func`, unless it is `()` or mentions `impl Trait` (not
/// nameable).
pub(crate) fn output_type(func: &ItemFn) -> Option<Type> {
    match &func.sig.output {
        ReturnType::Default => None,
        ReturnType::Type(_, ty) if contains_impl_trait(ty) => None,
        ReturnType::Type(_, ty) => Some((**ty).clone()),
    }
}

/// Whether `name` can name an entry point (and the deployed resource named after it): 1 to
/// 64 ASCII letters, digits, `-` or `_`.
pub(crate) fn is_entry_point_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A handler closure's statements for arguments extracted from an invocation `__inv` (functions
/// and schedules): per argument an assertion that its type can be extracted (`assert`) and
/// the extraction (`extract`), whose error is returned as is, bound to `__arg<i>`.
pub(crate) struct Extractions {
    /// `assert::<T>();` per argument; the output's assertion is added by [`output`].
    pub(crate) assertions: Vec<TokenStream>,
    /// `let __arg<i> = match extract::<T>(&__inv) { ... };` per argument.
    pub(crate) extractions: Vec<TokenStream>,
    /// `__arg0`, `__arg1`, …: the call's arguments.
    pub(crate) bindings: Vec<proc_macro2::Ident>,
}

/// [`Extractions`] of `args` with the runtime's `assert` and `extract` paths.
pub(crate) fn invocation_extractions(
    args: &[Type],
    assert: fn(Span) -> TokenStream,
    extract: fn(Span) -> TokenStream,
) -> Extractions {
    let mut out = Extractions {
        assertions: Vec::new(),
        extractions: Vec::new(),
        bindings: Vec::new(),
    };
    for (i, ty) in args.iter().enumerate() {
        let binding = quote::format_ident!("__arg{i}");
        // Spanned at the type, in the same body as the call: a missing impl is reported once,
        // on the user's type.
        let span = ty.span();
        let (assert, extract) = (assert(span), extract(span));
        out.assertions
            .push(quote::quote_spanned!(span=> #assert::<#ty>();));
        out.extractions.push(quote::quote! {
            let #binding = match #extract::<#ty>(&__inv) {
                ::core::result::Result::Ok(value) => value,
                ::core::result::Result::Err(error) => return ::core::result::Result::Err(error),
            };
        });
        out.bindings.push(binding);
    }
    out
}

/// The handler's output converted by `into` (`into_response`, `into_schedule_result`, …),
/// spanned at the declared output type when there is one, whose assertion (`assert_into`)
/// joins `assertions`; `ident` is the handler, which spans a unit output.
pub(crate) fn output(
    output: Option<&Type>,
    ident: &proc_macro2::Ident,
    assert_into: fn(Span) -> TokenStream,
    into: fn(Span) -> TokenStream,
    assertions: &mut Vec<TokenStream>,
) -> TokenStream {
    let (span, output) = match output {
        Some(ty) => {
            let span = ty.span();
            let assert = assert_into(span);
            assertions.push(quote::quote_spanned!(span=> #assert::<#ty>();));
            (span, output_spanned_as(ty))
        }
        None => (ident.span(), quote::quote!(__output)),
    };
    let into = into(span);
    quote::quote!(#into(#output))
}

/// What every attribute generates next to its function: a hidden type named like the function
/// and its impl of the descriptor trait `def`, whose `method` builds the descriptor `ty` from
/// `fields`, the attribute's source location and the handler closure. The closure takes
/// `param: param_ty`, runs `assertions` (compile-time checks, spanned at the user's types) and
/// `extractions`, binds `call`'s result to `__output` and converts it with `output`.
pub(crate) struct Descriptor<'a> {
    pub(crate) vis: &'a syn::Visibility,
    pub(crate) ident: &'a proc_macro2::Ident,
    pub(crate) def: TokenStream,
    pub(crate) method: proc_macro2::Ident,
    pub(crate) ty: TokenStream,
    pub(crate) fields: TokenStream,
    pub(crate) param: TokenStream,
    pub(crate) param_ty: TokenStream,
    pub(crate) assertions: Vec<TokenStream>,
    pub(crate) extractions: Vec<TokenStream>,
    pub(crate) call: TokenStream,
    pub(crate) output: TokenStream,
}

impl Descriptor<'_> {
    /// The generated items.
    pub(crate) fn expand(&self) -> TokenStream {
        let Descriptor {
            vis,
            ident,
            def,
            method,
            ty,
            fields,
            param,
            param_ty,
            assertions,
            extractions,
            call,
            output,
        } = self;
        let boxed = crate::paths::boxed(Span::call_site());
        let body = quote::quote! {
            #(#assertions)*
            #ty {
                #fields
                file: ::core::file!(),
                line: ::core::line!(),
                handler: |#param: #param_ty| {
                    #boxed::pin(async move {
                        #(#extractions)*
                        let __output = #call;
                        #output
                    })
                },
            }
        };
        descriptor_type(vis, ident, def, method, ty, body)
    }
}

/// The call of handler `ident` with `bindings`, awaited when it is `async`.
pub(crate) fn call(
    ident: &proc_macro2::Ident,
    bindings: &[proc_macro2::Ident],
    is_async: bool,
) -> TokenStream {
    if is_async {
        quote::quote!(#ident(#(#bindings),*).await)
    } else {
        quote::quote!(#ident(#(#bindings),*))
    }
}

/// The pipeline every handler attribute runs: its parsed arguments (`args`) and the function
/// are validated together; a valid result becomes the function followed by its descriptor
/// (`expand`), else the errors become `compile_error!`s next to the unchanged function and a
/// `placeholder` stands in for the descriptor. `attribute` names the attribute in messages.
pub(crate) fn expand_attribute<A, S>(
    attribute: &str,
    args: syn::Result<A>,
    item: TokenStream,
    validate: impl FnOnce(Option<A>, &ItemFn, &mut Errors) -> Option<S>,
    expand: impl FnOnce(&S) -> TokenStream,
    placeholder: impl FnOnce(&ItemFn) -> TokenStream,
) -> TokenStream {
    let mut errors = Errors::default();
    let args = errors.take(args);
    let mut func = match parse_fn(item.clone(), attribute) {
        Ok(func) => func,
        Err(error) => {
            errors.push(error);
            let errors = errors.to_compile_errors();
            return quote::quote!(#errors #item);
        }
    };
    take_other_handler_attributes(&mut func, attribute, &mut errors);
    match validate(args, &func, &mut errors) {
        Some(spec) if errors.is_empty() => {
            let descriptor = expand(&spec);
            quote::quote!(#item #descriptor)
        }
        _ => {
            let errors = errors.to_compile_errors();
            let placeholder = placeholder(&func);
            quote::quote!(#errors #func #placeholder)
        }
    }
}

/// What an attribute emits instead of its descriptor when it has errors: a type named like the
/// function, implementing the descriptor trait `def` (whose `method` returns `ty`) with a body
/// that never runs — the build fails anyway — so that uses such as `routes![handler]` resolve
/// and add no errors of their own. Nothing inside an `impl` block, where no type can be
/// declared.
pub(crate) fn placeholder(
    func: &ItemFn,
    def: &TokenStream,
    method: &proc_macro2::Ident,
    ty: &TokenStream,
) -> TokenStream {
    if func
        .sig
        .inputs
        .iter()
        .any(|input| matches!(input, FnArg::Receiver(_)))
    {
        return TokenStream::new();
    }
    descriptor_type(
        &func.vis,
        &func.sig.ident,
        def,
        method,
        ty,
        quote::quote!(::core::unreachable!()),
    )
}

/// The hidden type named like the handler `ident` and its impl of the descriptor trait `def`,
/// whose `method` returning `ty` has the body `body`.
fn descriptor_type(
    vis: &syn::Visibility,
    ident: &proc_macro2::Ident,
    def: &TokenStream,
    method: &proc_macro2::Ident,
    ty: &TokenStream,
    body: TokenStream,
) -> TokenStream {
    quote::quote! {
        #[allow(non_camel_case_types, dead_code)]
        #[doc(hidden)]
        #vis struct #ident {}

        impl #def for #ident {
            fn #method() -> #ty {
                #body
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    #[test]
    fn impl_trait_detection() {
        assert!(contains_impl_trait(&parse_quote!(impl Fn())));
        assert!(contains_impl_trait(&parse_quote!(Vec<impl Display>)));
        assert!(!contains_impl_trait(&parse_quote!(Json<Implement>)));
    }

    #[test]
    fn signature_errors_are_collected() {
        let func: ItemFn = parse_quote! {
            unsafe fn handler<T>(self, x: impl Sized) {}
        };
        let mut errors = Errors::default();
        check_signature(&func.sig, "route handler", &mut errors);
        let messages = errors.messages();
        assert_eq!(messages.len(), 4, "{messages:?}");
        assert!(messages[0].contains("can't be generic"));
        assert!(messages[1].contains("can't be `unsafe`"));
        assert!(messages[2].contains("can't take `self`"));
        assert!(messages[3].contains("`impl Trait`"));
    }

    #[test]
    fn other_handler_attributes_are_removed() {
        let mut func: ItemFn = parse_quote! {
            #[doc = "hi"]
            #[post("/x")]
            #[portico::get("/y")]
            #[other::get]
            fn handler() {}
        };
        let mut errors = Errors::default();
        take_other_handler_attributes(&mut func, "get", &mut errors);
        assert_eq!(errors.messages().len(), 2);
        assert_eq!(func.attrs.len(), 2);
    }

    #[test]
    fn non_functions_are_named() {
        let err = parse_fn(
            quote::quote!(
                struct S;
            ),
            "get",
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("not on a struct"), "{err}");
    }
}
