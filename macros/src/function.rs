//! `#[function]` / `#[function(name = "...")]`: an [`EntryKind`] with nothing of its own
//! beyond the name.

use proc_macro2::TokenStream;

use crate::entry::{EntryKind, KindArgs, KindPaths};
use crate::errors::Errors;
use crate::paths;

/// `#[function]`.
pub(crate) const FUNCTION: EntryKind = EntryKind {
    attribute: "function",
    what: "function handler",
    noun: "function",
    name_names: "the deployed Lambda function",
    name_example: "notify-manager",
    positional: None,
    options: &["name"],
    require_async: true,
    paths: KindPaths {
        def: paths::function_def,
        descriptor: paths::function,
        method: "function",
        invocation: paths::function_invocation,
        assert_from: paths::assert_from_function,
        extract: paths::extract_function,
        assert_into: paths::assert_into_function_result,
        into: paths::into_function_result,
    },
    validate: no_fields,
};

/// A function's descriptor has no fields of its own.
fn no_fields(_: &KindArgs<'_>, _: &mut Errors) -> Option<TokenStream> {
    Some(TokenStream::new())
}
