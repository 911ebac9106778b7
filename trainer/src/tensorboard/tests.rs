use super::*;

#[test]
fn records_carry_tensorflows_masked_crc32c() {
    // Values from TensorBoard's own masked_crc32c.
    let framed = record::frame(b"123456789");
    assert_eq!(&framed[..8], &9u64.to_le_bytes());
    let header = record::frame(b"")[8..12].to_vec();
    assert_eq!(header, 0x0798_0329u32.to_le_bytes());
    assert_eq!(&framed[21..], &0xc78a_b0e5u32.to_le_bytes());
    assert_eq!(record::records(&framed), vec![b"123456789".as_slice()]);
}

#[test]
fn keys_map_to_the_usual_tags() {
    assert_eq!(tag_of("train_loss").as_deref(), Some("train/loss"));
    assert_eq!(tag_of("grad_norm").as_deref(), Some("train/grad_norm"));
    assert_eq!(tag_of("eval_loss").as_deref(), Some("eval/loss"));
    assert_eq!(tag_of("rewards/margin").as_deref(), Some("rewards/margin"));
    assert_eq!(tag_of("rss_bytes").as_deref(), Some("memory/rss_bytes"));
    assert_eq!(tag_of("step"), None);
}

#[test]
fn a_second_writer_skips_steps_already_written_and_a_torn_tail() {
    let dir = std::env::temp_dir().join(format!("tb-unit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let rec = |step: i64, loss: f64| {
        let mut m = Map::new();
        m.insert("step".into(), step.into());
        m.insert("train_loss".into(), loss.into());
        m
    };
    let mut first = EventWriter::create(&dir).unwrap();
    first.scalars(&rec(1, 2.0)).unwrap();
    first.scalars(&rec(2, 1.5)).unwrap();
    // A run killed while writing: half a record at the end.
    first.file.write_all(&record::frame(b"torn")[..7]).unwrap();
    drop(first);
    let mut second = EventWriter::create(&dir).unwrap();
    assert_eq!(second.last.get("train/loss"), Some(&2));
    second.scalars(&rec(2, 9.0)).unwrap();
    second.scalars(&rec(3, 1.0)).unwrap();
    let bytes = std::fs::read(&second.path).unwrap();
    let steps: Vec<i64> = record::records(&bytes)
        .iter()
        .map(|d| Event::decode(*d).unwrap().step)
        .collect();
    assert_eq!(steps, vec![0, 3]);
    std::fs::remove_dir_all(&dir).unwrap();
}
