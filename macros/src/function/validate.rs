//! Checks `#[function]` against the function it is put on, and resolves what to generate.

use syn::ext::IdentExt;
use syn::{Ident, ItemFn, LitStr, Type, Visibility};

use crate::errors::Errors;
use crate::handler;
use crate::options::{self, RawOption};

/// The options `#[function]` accepts.
const OPTIONS: [&str; 1] = ["name"];

/// A validated function, ready to expand.
pub(crate) struct FunctionSpec {
    pub(crate) vis: Visibility,
    pub(crate) ident: Ident,
    /// The entry-point name: the `name` option or the function's name.
    pub(crate) name: LitStr,
    /// Argument types (`FromFunctionInvocation` extractors).
    pub(crate) args: Vec<Type>,
    /// The declared return type, unless it is `()` or mentions `impl Trait` (not nameable).
    pub(crate) output: Option<Type>,
}

/// Validates everything, recording every error; `None` when anything is wrong.
pub(crate) fn validate(
    options: Option<Vec<RawOption>>,
    func: &ItemFn,
    errors: &mut Errors,
) -> Option<FunctionSpec> {
    handler::check_signature(&func.sig, "function handler", errors);
    let ident = &func.sig.ident;
    if func.sig.asyncness.is_none() {
        errors.push(syn::Error::new_spanned(
            func.sig.fn_token,
            format!(
                "a function handler must be `async`: write `async fn {}(...)`",
                ident.unraw()
            ),
        ));
    }
    let name = match validate_options(&options?, errors)? {
        Some(name) => name,
        None => {
            let name = LitStr::new(&ident.unraw().to_string(), ident.span());
            check_name(&name, errors)?;
            name
        }
    };
    let arg_types = handler::arg_types(func)?;
    let output = handler::output_type(func);
    Some(FunctionSpec {
        vis: func.vis.clone(),
        ident: ident.clone(),
        name,
        args: arg_types,
        output,
    })
}

/// `Some(name option)` when the options are valid.
fn validate_options(raw: &[RawOption], errors: &mut Errors) -> Option<Option<LitStr>> {
    let known = options::known_options(raw, &OPTIONS, "function", errors);
    if known.len() != raw.len() {
        return None;
    }
    let Some(option) = known.first() else {
        return Some(None);
    };
    let name = errors.take(options::str_value(option, "notify-manager"))?;
    check_name(&name, errors)?;
    Some(Some(name))
}

/// Entry-point names: the deployed function is named after them, and `api` is the HTTP one.
fn check_name(name: &LitStr, errors: &mut Errors) -> Option<()> {
    let value = name.value();
    if value == "api" {
        errors.push(syn::Error::new(
            name.span(),
            "`api` is the entry-point name of the app's HTTP function; give this function \
             another one: `#[function(name = \"...\")]`",
        ));
        return None;
    }
    if !handler::is_entry_point_name(&value) {
        errors.push(syn::Error::new(
            name.span(),
            format!(
                "function name `{value}` must be 1 to 64 letters, digits, `-` or `_` (it names \
                 the entry point and the deployed Lambda function)"
            ),
        ));
        return None;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn validated(
        attr: proc_macro2::TokenStream,
        func: ItemFn,
    ) -> (Option<FunctionSpec>, Vec<String>) {
        let mut errors = Errors::default();
        let options = super::super::parse::parse_args(attr).unwrap();
        let spec = validate(Some(options), &func, &mut errors);
        (spec, errors.messages())
    }

    #[test]
    fn names() {
        let func: ItemFn = parse_quote!(
            async fn r#notify(Json(e): Json<Value>) -> Result<(), Error> {}
        );
        let (spec, errors) = validated(quote::quote!(), func.clone());
        assert!(errors.is_empty(), "{errors:?}");
        let spec = spec.unwrap();
        assert_eq!(spec.name.value(), "notify");
        assert!(spec.output.is_some());
        assert_eq!(spec.args.len(), 1);

        let (spec, errors) = spec_named("a.b", func.clone());
        assert!(spec.is_none());
        assert!(
            errors[0].contains("function name `a.b` must be"),
            "{errors:?}"
        );
        let (spec, errors) = spec_named("api", func);
        assert!(spec.is_none());
        assert!(
            errors[0].contains("`api` is the entry-point name"),
            "{errors:?}"
        );

        let (spec, errors) = validated(
            quote::quote!(),
            parse_quote!(
                async fn api() {}
            ),
        );
        assert!(spec.is_none());
        assert!(
            errors[0].contains("`api` is the entry-point name"),
            "{errors:?}"
        );
    }

    fn spec_named(name: &str, func: ItemFn) -> (Option<FunctionSpec>, Vec<String>) {
        validated(quote::quote!(name = #name), func)
    }

    #[test]
    fn must_be_async() {
        let (_, errors) = validated(
            quote::quote!(),
            parse_quote!(
                fn notify() {}
            ),
        );
        assert_eq!(
            errors,
            ["a function handler must be `async`: write `async fn notify(...)`"]
        );
    }
}
