use rendezvous::{StoreClient, StoreServer};
use std::time::Duration;

const T: Duration = Duration::from_secs(5);

#[test]
fn set_get_add_and_blocking_get() {
    let server = StoreServer::start("127.0.0.1:0".parse().unwrap(), "s3cret").unwrap();
    let port = server.addr().port();
    let mut a = StoreClient::connect("127.0.0.1", port, "s3cret", "p/", T).unwrap();
    let waiter = std::thread::spawn(move || {
        let mut b = StoreClient::connect("127.0.0.1", port, "s3cret", "p/", T).unwrap();
        b.get("late", T).unwrap()
    });
    std::thread::sleep(Duration::from_millis(100));
    a.set("late", b"value").unwrap();
    assert_eq!(waiter.join().unwrap(), b"value");
    assert_eq!(a.add("n", 2).unwrap(), 2);
    assert_eq!(a.add("n", 3).unwrap(), 5);
    assert_eq!(a.try_get("absent").unwrap(), None);
    let e = a.get("absent", Duration::from_millis(50)).unwrap_err();
    assert!(e.to_string().contains("timed out"), "{e}");
}

#[test]
fn a_client_without_the_secret_is_refused() {
    let server = StoreServer::start("127.0.0.1:0".parse().unwrap(), "right").unwrap();
    let port = server.addr().port();
    let e = StoreClient::connect("127.0.0.1", port, "wrong", "", T)
        .err()
        .expect("must be refused");
    assert!(e.to_string().contains("wrong run secret"), "{e}");
    // And the refused client never saw a value: a good client finds the store empty.
    let mut ok = StoreClient::connect("127.0.0.1", port, "right", "", T).unwrap();
    assert_eq!(ok.try_get("x").unwrap(), None);
}
