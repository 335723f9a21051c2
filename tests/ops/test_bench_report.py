"""make bench's report: ratios to (a) and (b), and each target marked met or MISSED."""

from bot.ops import bench


def level(senders, throughput, p95):
    return {
        "senders": senders,
        "throughput": throughput,
        "p50_ms": p95 / 2,
        "p95_ms": p95,
        "p99_ms": p95,
        "errors": 0,
        "messages": 100,
    }


def report(b10, b1_p95, c10):
    return {
        "cores": 2,
        "machine": "test",
        "seconds_per_level": 1,
        "targets": {
            "a": {"label": "a", "peak_rss_mb": 1, "levels": [level(1, 40, 30), level(10, 40, 300)]},
            "b": {
                "label": "b",
                "peak_rss_mb": 1,
                "levels": [level(1, 40, b1_p95), level(10, b10, 300)],
            },
            "c": {
                "label": "c",
                "peak_rss_mb": 1,
                "levels": [level(1, 30, 40), level(10, c10, 200)],
            },
        },
    }


def test_targets_met_and_missed_follow_the_figures():
    good = report(b10=44, b1_p95=120, c10=70)
    bench.add_ratios(good)
    text = bench.text_report(good)
    assert "met     (b) >= 0.9x (a) throughput at 10 senders: 1.1x" in text
    assert "met     (b) p95 <= 150 ms at 1 sender: 120 ms" in text
    assert "met     (c) >= 1.5x (b) throughput at 10 senders: 1.59x" in text

    bad = report(b10=30, b1_p95=200, c10=40)
    bench.add_ratios(bad)
    text = bench.text_report(bad)
    assert "MISSED  (b) >= 0.9x (a) throughput at 10 senders: 0.75x" in text
    assert "MISSED  (b) p95 <= 150 ms at 1 sender: 200 ms" in text
    assert "MISSED  (c) >= 1.5x (b) throughput at 10 senders: 1.33x" in text
    assert "on 2 cores" in text
