//! Arbitrary bytes → `decode_event` → (for HTTP events) `encode_response` of an echo response.
//!
//! Finds panics in either direction, responses that are not valid JSON and bodies that do not
//! survive base64/text encoding; the checks live in `portico::__fuzz`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    portico::__fuzz::fuzz_decode_and_encode(data);
});
