//! The local Hub is faithful: the real `huggingface_hub` client uploads to it
//! (through scripts/hub-python-upload, which installs the package into .venv
//! when missing), and a client that gets the protocol wrong is refused.

mod common;

use common::*;
use serde_json::{json, Value};
use std::process::Command;

#[test]
fn the_real_huggingface_hub_client_uploads_to_the_local_hub() {
    let hub = LocalHub::start(&[]);
    let home = TempDir::new("home");
    let folder = home.join("final");
    make_final(&folder);
    let out = Command::new(repo_root().join("scripts/hub-python-upload"))
        .args(["acme/from-python", folder.to_str().unwrap()])
        .env("HF_ENDPOINT", &hub.url)
        .env("HF_TOKEN", TOKEN)
        .output()
        .expect("run scripts/hub-python-upload");
    let all = text(&out);
    assert!(
        out.status.success(),
        "huggingface_hub upload failed:\n{all}"
    );
    assert_same_files(&folder, &hub.tree("acme/from-python", "main"));
    let log = hub.log();
    for endpoint in [
        "/api/repos/create",
        "/preupload/main",
        "/info/lfs/objects/batch",
        "PUT /lfs/part/",
        "POST /lfs/complete/",
        "/commit/main",
    ] {
        assert!(
            log.contains(endpoint),
            "huggingface_hub did not use {endpoint}:\n{log}"
        );
    }

    // `launch push` of the same folder then finds everything in place.
    let out = launch_clean(
        &[
            "push",
            folder.to_str().unwrap(),
            "--repo",
            "acme/from-python",
        ],
        &[("HF_ENDPOINT", &hub.url), ("HF_TOKEN", TOKEN)],
        &home.0,
    );
    assert!(text(&out).contains("nothing to push"), "{}", text(&out));
}

fn auth() -> String {
    format!("Bearer {TOKEN}")
}

fn json_of(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or(Value::Null)
}

#[test]
fn a_client_that_gets_the_protocol_wrong_is_refused() {
    let hub = LocalHub::start(&[]);
    let url = hub.url.as_str();
    let a = auth();
    let h = |ct: &'static str| vec![("Authorization", a.as_str()), ("Content-Type", ct)];
    let create = json!({ "name": "strict", "organization": "acme" }).to_string();
    assert_eq!(
        http(
            url,
            "POST",
            "/api/repos/create",
            &h("application/json"),
            create.as_bytes()
        )
        .0,
        200
    );
    assert_eq!(
        http(url, "POST", "/api/repos/create", &[], create.as_bytes()).0,
        401,
        "no token"
    );

    // Commit: wrong content type, missing header line, unknown object, inline binary.
    let header =
        json!({ "key": "header", "value": { "summary": "x", "description": "" } }).to_string();
    let file = json!({ "key": "file", "value": { "path": "a.txt", "content": "aGk=", "encoding": "base64" } }).to_string();
    let ok_body = format!("{header}\n{file}\n");
    let commit = "/api/models/acme/strict/commit/main";
    assert_eq!(
        http(
            url,
            "POST",
            commit,
            &h("application/json"),
            ok_body.as_bytes()
        )
        .0,
        415
    );
    assert_eq!(
        http(
            url,
            "POST",
            commit,
            &h("application/x-ndjson"),
            format!("{file}\n").as_bytes()
        )
        .0,
        400
    );
    let ghost = json!({ "key": "lfsFile", "value": { "path": "w.safetensors", "algo": "sha256", "oid": "a".repeat(64), "size": 3 } });
    let (s, _, b) = http(
        url,
        "POST",
        commit,
        &h("application/x-ndjson"),
        format!("{header}\n{ghost}\n").as_bytes(),
    );
    assert_eq!(s, 400);
    assert!(String::from_utf8_lossy(&b).contains("never uploaded"));
    let inline = json!({ "key": "file", "value": { "path": "w.safetensors", "content": "AAAA", "encoding": "base64" } });
    assert_eq!(
        http(
            url,
            "POST",
            commit,
            &h("application/x-ndjson"),
            format!("{header}\n{inline}\n").as_bytes()
        )
        .0,
        400
    );
    let escape = json!({ "key": "file", "value": { "path": "../x", "content": "aGk=", "encoding": "base64" } });
    assert_eq!(
        http(
            url,
            "POST",
            commit,
            &h("application/x-ndjson"),
            format!("{header}\n{escape}\n").as_bytes()
        )
        .0,
        400
    );
    assert_eq!(
        http(
            url,
            "POST",
            commit,
            &h("application/x-ndjson"),
            ok_body.as_bytes()
        )
        .0,
        200
    );

    // LFS: bytes that do not match the announced sha256 are refused.
    let data = bytes(7, 2_100_000); // multipart: 3 parts of 700000
    let oid = sha256_hex(&data);
    let batch = json!({ "operation": "upload", "transfers": ["basic", "multipart"], "hash_algo": "sha256",
                        "objects": [{ "oid": oid, "size": data.len() }, { "oid": sha256_hex(b"small"), "size": 5 }] });
    let lfs = vec![
        ("Authorization", a.as_str()),
        ("Accept", "application/vnd.git-lfs+json"),
        ("Content-Type", "application/vnd.git-lfs+json"),
    ];
    let (s, _, b) = http(
        url,
        "POST",
        "/acme/strict.git/info/lfs/objects/batch",
        &lfs,
        batch.to_string().as_bytes(),
    );
    assert_eq!(s, 200);
    let v = json_of(&b);
    let basic = v["objects"][1]["actions"]["upload"]["href"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        http(url, "PUT", &basic, &[], b"SMALL").0,
        400,
        "wrong sha256"
    );
    assert_eq!(http(url, "PUT", &basic, &[], b"small").0, 200);

    let up = &v["objects"][0]["actions"]["upload"];
    let complete = up["href"].as_str().unwrap().to_string();
    let parts: Vec<String> = ["00001", "00002", "00003"]
        .iter()
        .map(|k| up["header"][k].as_str().unwrap().to_string())
        .collect();
    assert_eq!(up["header"]["chunk_size"], "700000");
    assert_eq!(
        http(url, "PUT", &parts[0], &[], &data[..600_000]).0,
        400,
        "short part"
    );
    let mut etags = Vec::new();
    for (i, p) in parts.iter().enumerate().take(2) {
        let (s, hdr, _) = http(url, "PUT", p, &[], &data[i * 700_000..(i + 1) * 700_000]);
        assert_eq!(s, 200);
        etags.push(hdr.iter().find(|(k, _)| k == "etag").unwrap().1.clone());
    }
    let two = json!({ "oid": oid, "parts": [{ "partNumber": 1, "etag": etags[0] }, { "partNumber": 2, "etag": etags[1] }] });
    assert_eq!(
        http(
            url,
            "POST",
            &complete,
            &lfs[1..],
            two.to_string().as_bytes()
        )
        .0,
        400,
        "a part is missing"
    );
    let (s, hdr, _) = http(url, "PUT", &parts[2], &[], &data[1_400_000..]);
    assert_eq!(s, 200);
    etags.push(hdr.iter().find(|(k, _)| k == "etag").unwrap().1.clone());
    let all = json!({ "oid": oid, "parts": (0..3).map(|i| json!({ "partNumber": i + 1, "etag": etags[i] })).collect::<Vec<_>>() });
    assert_eq!(
        http(
            url,
            "POST",
            &format!("{complete}x"),
            &lfs[1..],
            all.to_string().as_bytes()
        )
        .0,
        403,
        "bad signature"
    );
    assert_eq!(
        http(
            url,
            "POST",
            &complete,
            &lfs[1..],
            all.to_string().as_bytes()
        )
        .0,
        200
    );
    let real = json!({ "key": "lfsFile", "value": { "path": "w.safetensors", "algo": "sha256", "oid": oid, "size": data.len() } });
    assert_eq!(
        http(
            url,
            "POST",
            commit,
            &h("application/x-ndjson"),
            format!("{header}\n{real}\n").as_bytes()
        )
        .0,
        200
    );
    assert_eq!(
        std::fs::read(hub.tree("acme/strict", "main").join("w.safetensors")).unwrap(),
        data
    );
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}
