"""The shared Redis connection: publish/subscribe, degraded status, reconnection, bounded calls."""
import gevent
import pytest

from siothread.adapters.redis_link import Backoff, LinkUnavailable, RedisLink


def wait(predicate, timeout=10.0):
    with gevent.Timeout(timeout, AssertionError("condition never met")):
        while not predicate():
            gevent.sleep(0.02)


def test_publish_reaches_subscribers_in_order(redis_server):
    got = []
    sub = RedisLink(redis_server.url, lambda channel, data: got.append((channel, data)))
    sub.subscribe(channels=["a#"], patterns=["p#*"])
    pub = RedisLink(redis_server.url)
    try:
        sub.start()
        pub.start()
        wait(lambda: sub.status()["connected"] and pub.status()["connected"])
        for i in range(100):
            pub.publish("a#" if i % 2 else "p#x", b"%d" % i)
        wait(lambda: len(got) == 100)
        assert [int(data) for _, data in got] == list(range(100))
        assert pub.command("PUBSUB", "NUMSUB", "a#")[1] == 1
    finally:
        sub.close()
        pub.close()


def test_redis_down_at_start_then_up(fresh_redis):
    fresh_redis.kill()
    got = []
    link = RedisLink(fresh_redis.url, lambda channel, data: got.append(data), publish_timeout=0.5)
    link.subscribe(channels=["c"])
    try:
        link.start()
        gevent.sleep(0.3)
        status = link.status()
        assert not status["connected"] and status["degraded_since"] is not None
        assert link.publish("c", b"x") is False and link.status()["dropped_publish"] == 1
        with pytest.raises(LinkUnavailable):
            link.command("PING")
        fresh_redis.start()
        wait(lambda: link.status()["connected"])
        assert link.status()["degraded_since"] is None
        link.publish("c", b"y")
        wait(lambda: got == [b"y"])
    finally:
        link.close()


def test_stalled_redis_bounds_every_call(fresh_redis):
    link = RedisLink(fresh_redis.url, lambda c, d: None, publish_timeout=0.5)
    link.subscribe(channels=["c"])
    link.start()
    try:
        wait(lambda: link.status()["connected"])
        fresh_redis.stall()
        started = gevent.get_hub().loop.now()
        with pytest.raises(LinkUnavailable):
            link.command("PING")
        link.publish("c", b"x")  # never blocks the caller
        assert gevent.get_hub().loop.now() - started < 2
        wait(lambda: not link.status()["connected"], timeout=5)
        fresh_redis.resume()
        wait(lambda: link.status()["connected"], timeout=10)
    finally:
        fresh_redis.resume()
        link.close()


def test_close_while_redis_is_down_does_not_hang(fresh_redis):
    link = RedisLink(fresh_redis.url, lambda c, d: None, publish_timeout=0.5)
    link.subscribe(channels=["c"])
    link.start()
    wait(lambda: link.status()["connected"])
    fresh_redis.kill()
    with gevent.Timeout(3):
        link.close(timeout=1.0)


def test_backoff_is_capped_and_jittered():
    backoff = Backoff(base=0.1, cap=2.0)
    delays = [backoff.next() for _ in range(12)]
    assert all(0.05 <= d <= 2.0 for d in delays)
    assert max(delays) > 1.0
    backoff.reset()
    assert backoff.next() <= 0.1
