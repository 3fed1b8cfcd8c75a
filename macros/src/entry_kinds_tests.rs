//! The entry-point pipeline (`entry.rs`), run for each kind: what every entry-point attribute
//! does the same way.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::{ItemFn, parse_quote};

use crate::entry::{EntryKind, EntrySpec, attribute, parse_args, validate};
use crate::errors::Errors;
use crate::events::{DYNAMODB, EVENTBRIDGE, S3, SNS, SQS};
use crate::function::FUNCTION;
use crate::schedule::SCHEDULE;

/// A kind with valid arguments for it (`args`, which end with a comma when not empty).
fn kinds() -> Vec<(&'static EntryKind, TokenStream)> {
    vec![
        (&SCHEDULE, quote!("rate(5 minutes)",)),
        (&FUNCTION, quote!()),
        (&SQS, quote!(queue = "jobs",)),
        (&SNS, quote!(topic = "alerts",)),
        (&S3, quote!(bucket = "uploads",)),
        (
            &EVENTBRIDGE,
            quote!(pattern = r#"{"source": ["shop.orders"]}"#,),
        ),
        (&DYNAMODB, quote!(table = "users",)),
    ]
}

fn validated(
    kind: &EntryKind,
    attr: TokenStream,
    func: &ItemFn,
) -> (Option<EntrySpec>, Vec<String>) {
    let mut errors = Errors::default();
    let args = parse_args(kind, attr).unwrap();
    let spec = validate(kind, Some(args), func, &mut errors);
    (spec, errors.messages())
}

#[test]
fn success_keeps_the_function_and_adds_a_descriptor() {
    for (kind, args) in kinds() {
        let out = attribute(
            kind,
            args,
            quote!(
                async fn cleanup(event: Event) {}
            ),
        )
        .to_string();
        let attribute = kind.attribute;
        assert!(!out.contains("compile_error"), "{attribute}: {out}");
        assert!(
            out.contains("async fn cleanup (event : Event) { }"),
            "{attribute}: {out}"
        );
        let def = (kind.paths.def)(Span::call_site()).to_string();
        assert!(
            out.contains(&format!("{def} for cleanup")),
            "{attribute}: {out}"
        );
        assert!(out.contains("name : \"cleanup\""), "{attribute}: {out}");
    }
}

#[test]
fn errors_are_reported_together_with_the_function() {
    for (kind, args) in kinds() {
        let out = attribute(
            kind,
            quote!(#args name = "a b"),
            quote!(
                async fn cleanup<T>() {}
            ),
        )
        .to_string();
        // Generic, bad name.
        assert_eq!(
            out.matches("compile_error").count(),
            2,
            "{}: {out}",
            kind.attribute
        );
        assert!(out.contains("async fn cleanup < T > ()"), "{out}");
    }
}

#[test]
fn names() {
    for (kind, args) in kinds() {
        let attribute = kind.attribute;
        let func: ItemFn = parse_quote!(
            async fn r#nightly(e: Event) -> Result<(), Error> {}
        );
        let (spec, errors) = validated(kind, args.clone(), &func);
        assert!(errors.is_empty(), "{attribute}: {errors:?}");
        let spec = spec.unwrap();
        assert_eq!(spec.name.value(), "nightly", "{attribute}");
        assert!(spec.output.is_some(), "{attribute}");
        assert_eq!(spec.args.len(), 1, "{attribute}");

        let (spec, errors) = validated(kind, quote!(#args name = "a.b"), &func);
        assert!(spec.is_none(), "{attribute}");
        let expected = format!("{} name `a.b` must be", kind.noun);
        assert!(errors[0].contains(&expected), "{attribute}: {errors:?}");

        let (spec, errors) = validated(kind, quote!(#args name = "api"), &func);
        assert!(spec.is_none(), "{attribute}");
        assert!(
            errors[0].contains("`api` is the entry-point name"),
            "{attribute}: {errors:?}"
        );

        let api: ItemFn = parse_quote!(
            async fn api() {}
        );
        let (spec, errors) = validated(kind, args, &api);
        assert!(spec.is_none(), "{attribute}");
        assert!(
            errors[0].contains("`api` is the entry-point name"),
            "{attribute}: {errors:?}"
        );
    }
}

#[test]
fn async_only_where_required() {
    let func: ItemFn = parse_quote!(
        fn notify() {}
    );
    let (_, errors) = validated(&FUNCTION, quote!(), &func);
    assert_eq!(
        errors,
        ["a function handler must be `async`: write `async fn notify(...)`"]
    );
    let (spec, errors) = validated(&SCHEDULE, quote!("rate(1 day)"), &func);
    assert!(errors.is_empty(), "{errors:?}");
    assert!(!spec.unwrap().is_async);
}

#[test]
fn arguments() {
    let args = parse_args(&FUNCTION, quote!(name = "notify",)).unwrap();
    assert!(args.positional.is_none());
    assert_eq!(args.options.len(), 1);
    assert_eq!(args.options[0].name, "name");
    assert!(parse_args(&FUNCTION, quote!()).unwrap().options.is_empty());
    let err = parse_args(&FUNCTION, quote!("notify"))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("expected an option"), "{err}");

    let args = parse_args(&SCHEDULE, quote!("rate(1 day)", name = "daily")).unwrap();
    assert_eq!(args.positional.unwrap().value(), "rate(1 day)");
    assert_eq!(args.options.len(), 1);
    let err = parse_args(&SCHEDULE, quote!()).err().unwrap().to_string();
    assert!(err.contains("needs a schedule expression"), "{err}");
    let err = parse_args(&SCHEDULE, quote!(rate(5 minutes)))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("as a string literal"), "{err}");
}
