//! Thin binary: everything lives in the library (`returnsd::cli`).
fn main() -> std::process::ExitCode {
    returnsd::app::bound_malloc_arenas();
    returnsd::cli::main()
}
