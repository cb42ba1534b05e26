import pytest

from generator.content.sentences import split_sentences

CASES = [
    ("Dr. Smith drove the rover. It was slow.", ["Dr. Smith drove the rover.", "It was slow."]),
    ("Rovers carry instruments, e.g. spectrometers and drills. They are heavy.", ["Rovers carry instruments, e.g. spectrometers and drills.", "They are heavy."]),
    ("Some rovers, i.e. the large ones, use nuclear power. Others use sunlight.", ["Some rovers, i.e. the large ones, use nuclear power.", "Others use sunlight."]),
    ("The U.S. built most of them. China built one too.", ["The U.S. built most of them.", "China built one too."]),
    ("Drills, arms, cameras, etc. The list goes on.", ["Drills, arms, cameras, etc.", "The list goes on."]),
    ("It was Perseverance vs. the crater. The crater won.", ["It was Perseverance vs. the crater.", "The crater won."]),
    ("The rover drove 3.5 km on flat ground. Its top speed is 1.2 m/s. That is slow.", ["The rover drove 3.5 km on flat ground.", "Its top speed is 1.2 m/s.", "That is slow."]),
    ('"Is anyone there?" the engineer asked. Nobody answered.', ['"Is anyone there?" the engineer asked.', "Nobody answered."]),
    ('She said "the wheels are worn." Then she left.', ['She said "the wheels are worn."', "Then she left."]),
    ("The signal faded... and then it came back. Everyone cheered.", ["The signal faded... and then it came back.", "Everyone cheered."]),
    ("Mars 2020 carried a helicopter. It flew on Sol 58. The team was thrilled.", ["Mars 2020 carried a helicopter.", "It flew on Sol 58.", "The team was thrilled."]),
    ("The rover woke on Sol 12. It had survived the night.", ["The rover woke on Sol 12.", "It had survived the night."]),
    ("The arm (which has five joints) is slow. The drill (see Fig. 3) is fast.", ["The arm (which has five joints) is slow.", "The drill (see Fig. 3) is fast."]),
    ("The arm moves slowly (about 1 cm per second). It is careful.", ["The arm moves slowly (about 1 cm per second).", "It is careful."]),
    ("Opportunity ran for 14 yrs. and 46 days. Nobody expected that.", ["Opportunity ran for 14 yrs. and 46 days.", "Nobody expected that."]),
]


@pytest.mark.parametrize("text,expected", CASES, ids=[c[0][:30] for c in CASES])
def test_tricky_sentences(text, expected):
    assert split_sentences(text) == expected


def test_whitespace_and_empty():
    assert split_sentences("   ") == []
    assert split_sentences("One line\nwraps here. Two.") == ["One line wraps here.", "Two."]


def test_works_without_nltk_data(monkeypatch):
    """The builtin splitter never looks for downloaded data."""
    import nltk

    def refuse(*a, **k):
        raise AssertionError("nltk.data was consulted")

    monkeypatch.setattr(nltk.data, "find", refuse)
    monkeypatch.setattr(nltk.data, "load", refuse)
    from generator.content import sentences

    sentences.get_splitter.cache_clear()
    assert sentences.split_sentences("Rovers roll. Wheels turn.") == ["Rovers roll.", "Wheels turn."]
