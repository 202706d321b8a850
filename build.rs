//! Re-exports nginx's build facts from nginx-sys (cargo passes `DEP_NGINX_*` only to direct
//! dependents) so that `#[cfg(ngx_feature = "...")]` works here, and records which nginx build
//! directory the module was compiled against, for scripts/build.sh.
use std::env;
use std::path::PathBuf;

fn main() {
    for (name, var) in [("ngx_feature", "FEATURES"), ("ngx_os", "OS")] {
        let check = env::var(format!("DEP_NGINX_{var}_CHECK")).unwrap_or_default();
        println!(
            "cargo::rustc-check-cfg=cfg({name}, values({}))",
            if check.is_empty() {
                "any()".into()
            } else {
                check
            }
        );
        if let Ok(values) = env::var(format!("DEP_NGINX_{var}")) {
            for v in values.split(',').filter(|v| !v.is_empty()) {
                println!("cargo::rustc-cfg={name}=\"{v}\"");
            }
        }
        println!("cargo::rerun-if-env-changed=DEP_NGINX_{var}");
    }
    // nginx 1.23.0 made header lines linked lists (`ngx_table_elt_t.next`, `headers_in.cookie`,
    // new `ngx_http_parse_multi_header_lines` signature). `cfg(nginx1_23_0)` selects that API,
    // without it the 1.22 one (Debian 12's nginx); both live in src/compat.rs only. Nothing the
    // module uses changed between 1.23 and 1.28 (Debian 13's 1.26.3, the vendored 1.28.3).
    println!("cargo::rustc-check-cfg=cfg(nginx1_23_0)");
    let version = env::var("DEP_NGINX_VERSION_NUMBER").ok();
    if version
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|v| v >= 1_023_000)
    {
        println!("cargo::rustc-cfg=nginx1_23_0");
    }
    println!("cargo::rerun-if-env-changed=DEP_NGINX_VERSION_NUMBER");
    if let (Ok(dir), Ok(out)) = (env::var("DEP_NGINX_BUILD_DIR"), env::var("OUT_DIR")) {
        // OUT_DIR is target/<profile>/build/<pkg>-<hash>/out.
        let profile_dir: PathBuf = PathBuf::from(out)
            .ancestors()
            .nth(3)
            .map(Into::into)
            .unwrap_or_default();
        let _ = std::fs::write(profile_dir.join("nginx-build-dir"), dir);
    }
    println!("cargo::rerun-if-env-changed=DEP_NGINX_BUILD_DIR");
}
