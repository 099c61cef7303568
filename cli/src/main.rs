//! `pathgrid`: thin binary over the pathgrid libraries.

fn main() -> std::process::ExitCode {
    pathgrid_cli::main()
}
