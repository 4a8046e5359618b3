from core.words import count


def test_count_singular_plural_and_separators() -> None:
    assert count(1, "step") == "1 step"
    assert count(0, "step") == "0 steps"
    assert count(2814, "step") == "2,814 steps"
    assert count(1, "bit") + " apart" == "1 bit apart"
    assert count(3, "clip") == "3 clips"
    assert count(2, "run", "runs") == "2 runs"
    assert count(1, "was", "were") == "1 was"
    assert count(1.5, "minute") == "1.5 minutes"
