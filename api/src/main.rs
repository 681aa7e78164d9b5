// mimalloc instead of glibc's malloc: measured in docs/BENCHMARK.md ("A faster machine; the
// allocator; ...").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    api::cli::main()
}
