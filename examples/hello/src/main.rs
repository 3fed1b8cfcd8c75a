//! The hello example's Lambda binary, `bootstrap`.

fn main() {
    portico::run(hello::app());
}
