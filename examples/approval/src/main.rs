//! The approval example's Lambda binary (`approval`, packaged as `bootstrap`): the API, the
//! `worker` schedule and the `notify` function, chosen by `PORTICO_HANDLER`.

fn main() {
    let services = approval::Services::from_env();
    // Misconfiguration is reported once at start and again by each request that needs the
    // setting; the process keeps serving what it can (status pages, error pages). Printing
    // the manifest needs no configuration, so it stays quiet then.
    let manifest = std::env::var_os("PORTICO_MANIFEST").is_some()
        || std::env::args().any(|a| a == "--portico-manifest");
    if !manifest {
        for problem in services.settings.problems() {
            eprintln!("approval: configuration: {problem}");
        }
    }
    portico::run(approval::app_with(services));
}
