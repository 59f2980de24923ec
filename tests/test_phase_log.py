"""The phase log's sampler: a window shorter than the sampling interval still has a peak."""

from pipelines.phase_log import Sampler


def sampler_with(samples: list[tuple[float, int]]) -> Sampler:
    sampler = Sampler(interval=0.2)
    for moment, rss in samples:
        sampler.times.append(moment)
        sampler.cpu.append(0.0)
        sampler.rss.append(rss)
    return sampler


def test_a_window_between_two_samples_takes_the_samples_around_it():
    sampler = sampler_with([(10.0, 100), (10.2, 300), (10.4, 200)])
    assert sampler.peak_rss(10.25, 10.38) == 300
    assert sampler.peak_rss(10.21, 10.22) == 300


def test_a_window_takes_no_sample_from_farther_away():
    sampler = sampler_with([(10.0, 900), (10.2, 100), (10.4, 200), (10.6, 800)])
    assert sampler.peak_rss(10.2, 10.4) == 200
    assert sampler.peak_rss(10.25, 10.35) == 200


def test_without_bounds_every_sample_counts():
    sampler = sampler_with([(10.0, 900), (10.2, 100)])
    assert sampler.peak_rss() == 900
    assert Sampler().peak_rss(1.0, 2.0) == 0
