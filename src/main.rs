//! Thin binary: everything lives in the library (`returnsd::cli`).
fn main() -> std::process::ExitCode {
    returnsd::cli::main()
}
