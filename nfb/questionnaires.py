"""Standard outcome questionnaires: the GAD-7 and the PHQ-9, their scoring and reliable change.

Pure: no I/O, no Qt. The records themselves (dated answers per client) live in the store,
see :mod:`nfb.session.course`.

- **GAD-7** (Spitzer, Kroenke, Williams & Löwe 2006, *Arch Intern Med* 166:1092–1097):
  seven items scored 0–3, total 0–21; severity 0–4 minimal, 5–9 mild, 10–14 moderate,
  15–21 severe; a total of 10 or more flags probable generalised anxiety disorder
  (sensitivity 89 %, specificity 82 %).
- **PHQ-9** (Kroenke, Spitzer & Williams 2001, *J Gen Intern Med* 16:606–613): nine items
  scored 0–3, total 0–27; severity 0–4 minimal, 5–9 mild, 10–14 moderate, 15–19 moderately
  severe, 20–27 severe.

Both were developed by Drs Spitzer, Williams, Kroenke and colleagues with an educational
grant from Pfizer Inc.; no permission is required to reproduce, translate, display or
distribute them. The item wording below is the English original.

Reliable change (Jacobson & Truax 1991, *J Consult Clin Psychol* 59:12–19):
``RCI = (x2 − x1) / S_diff`` with ``S_diff = sqrt(2) · SE`` and ``SE = SD · sqrt(1 − r)``;
``|RCI| > 1.96`` is a change larger than measurement error alone would give 95 % of the time.
The SD and test–retest ``r`` of each questionnaire are :data:`RCI_PARAMETERS`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: The answers every item of both questionnaires offers, scored 0–3.
ANSWERS = ("Not at all", "Several days", "More than half the days", "Nearly every day")


@dataclass(frozen=True)
class Questionnaire:
    """One questionnaire: its items, bands and reliable-change parameters.

    Attributes
    ----------
    key : str
        ``"gad7"`` or ``"phq9"`` (file and column names).
    name : str
        ``"GAD-7"`` or ``"PHQ-9"`` (what people read).
    title : str
        The full name.
    stem : str
        The question every item answers.
    items : tuple of str
        The items' wording, in order.
    bands : tuple of (int, str)
        ``(lowest total, label)`` of each severity band, ascending.
    cutoff : int
        The total from which the screen is positive (10 for both).
    cutoff_label : str
        What a positive screen means.
    """

    key: str
    name: str
    title: str
    stem: str
    items: tuple[str, ...]
    bands: tuple[tuple[int, str], ...]
    cutoff: int
    cutoff_label: str

    @property
    def n_items(self) -> int:
        """How many items (7 or 9)."""
        return len(self.items)

    @property
    def max_total(self) -> int:
        """The highest possible total (3 per item)."""
        return 3 * len(self.items)


GAD7 = Questionnaire(
    key="gad7",
    name="GAD-7",
    title="Generalized Anxiety Disorder 7-item scale",
    stem="Over the last 2 weeks, how often have you been bothered by the following problems?",
    items=(
        "Feeling nervous, anxious or on edge",
        "Not being able to stop or control worrying",
        "Worrying too much about different things",
        "Trouble relaxing",
        "Being so restless that it is hard to sit still",
        "Becoming easily annoyed or irritable",
        "Feeling afraid as if something awful might happen",
    ),
    bands=((0, "minimal"), (5, "mild"), (10, "moderate"), (15, "severe")),
    cutoff=10,
    cutoff_label="probable generalised anxiety disorder",
)

PHQ9 = Questionnaire(
    key="phq9",
    name="PHQ-9",
    title="Patient Health Questionnaire, 9-item depression module",
    stem="Over the last 2 weeks, how often have you been bothered by any of the following "
    "problems?",
    items=(
        "Little interest or pleasure in doing things",
        "Feeling down, depressed, or hopeless",
        "Trouble falling or staying asleep, or sleeping too much",
        "Feeling tired or having little energy",
        "Poor appetite or overeating",
        "Feeling bad about yourself — or that you are a failure or have let yourself or "
        "your family down",
        "Trouble concentrating on things, such as reading the newspaper or watching television",
        "Moving or speaking so slowly that other people could have noticed? Or the opposite — "
        "being so fidgety or restless that you have been moving around a lot more than usual",
        "Thoughts that you would be better off dead or of hurting yourself in some way",
    ),
    bands=(
        (0, "minimal"),
        (5, "mild"),
        (10, "moderate"),
        (15, "moderately severe"),
        (20, "severe"),
    ),
    cutoff=10,
    cutoff_label="probable major depression (moderate or worse)",
)

#: The questionnaires by key, in the order they are shown.
QUESTIONNAIRES: dict[str, Questionnaire] = {q.key: q for q in (GAD7, PHQ9)}


@dataclass(frozen=True)
class RciParameters:
    """The normative SD and test–retest reliability of a questionnaire, and where from.

    Attributes
    ----------
    sd : float
        Standard deviation of the total in the normative sample.
    r : float
        Test–retest reliability of the total.
    source : str
        The citation of both, as the report prints it.
    """

    sd: float
    r: float
    source: str

    @property
    def se(self) -> float:
        """Standard error of measurement: ``SD · sqrt(1 − r)``."""
        return self.sd * math.sqrt(1.0 - self.r)

    @property
    def s_diff(self) -> float:
        """Standard error of a difference of two scores: ``sqrt(2) · SE``."""
        return math.sqrt(2.0) * self.se

    @property
    def min_change(self) -> int:
        """The smallest whole-point change that is reliable (``|Δ| > 1.96 · S_diff``)."""
        return math.floor(RELIABLE_Z * self.s_diff) + 1


#: |RCI| above this is reliable change (the two-sided 95 % point of the normal distribution).
RELIABLE_Z = 1.96

#: GAD-7: SD of the total in the German general-population norm sample (n = 5030), and the
#: test–retest intraclass correlation of the original primary-care validation.
GAD7_SD = 3.41
GAD7_RETEST_R = 0.83
#: PHQ-9: SD of the total in the German general-population norm sample (n = 5018; 3.5 in
#: women and in men), and the test–retest correlation of the original validation (clinic
#: self-report against a telephone interview within 48 h).
PHQ9_SD = 3.5
PHQ9_RETEST_R = 0.84

RCI_PARAMETERS: dict[str, RciParameters] = {
    "gad7": RciParameters(
        GAD7_SD,
        GAD7_RETEST_R,
        "SD 3.41: Löwe B, Decker O, Müller S, et al. Validation and standardization of the "
        "Generalized Anxiety Disorder Screener (GAD-7) in the general population. Med Care "
        "2008;46(3):266–274 (German population norms, n = 5030). r = 0.83: test–retest "
        "intraclass correlation in Spitzer RL, Kroenke K, Williams JBW, Löwe B. A brief "
        "measure for assessing generalized anxiety disorder: the GAD-7. Arch Intern Med "
        "2006;166(10):1092–1097.",
    ),
    "phq9": RciParameters(
        PHQ9_SD,
        PHQ9_RETEST_R,
        "SD 3.5: Kocalevent RD, Hinz A, Brähler E. Standardization of the depression "
        "screener Patient Health Questionnaire (PHQ-9) in the general population. Gen Hosp "
        "Psychiatry 2013;35(5):551–555 (German population norms, n = 5018; SD 3.5 in women "
        "and in men). r = 0.84: test–retest correlation in Kroenke K, Spitzer RL, Williams "
        "JBW. The PHQ-9: validity of a brief depression severity measure. J Gen Intern Med "
        "2001;16(9):606–613.",
    ),
}
JACOBSON_TRUAX = (
    "Jacobson NS, Truax P. Clinical significance: a statistical approach to defining "
    "meaningful change in psychotherapy research. J Consult Clin Psychol 1991;59(1):12–19."
)


def questionnaire(key: str) -> Questionnaire:
    """The questionnaire of ``key`` (``gad7``, ``phq9``; ``GAD-7`` is accepted too).

    Raises
    ------
    KeyError
        An unknown key.
    """
    norm = key.lower().replace("-", "").replace("_", "")
    return QUESTIONNAIRES[norm]


def total(items: list[int] | tuple[int, ...]) -> int:
    """The total score: the sum of the items."""
    return int(sum(items))


def severity(q: Questionnaire, score: int) -> str:
    """The severity band of a total (``"moderate"``...).

    Raises
    ------
    ValueError
        A total outside ``0..q.max_total``.
    """
    if not 0 <= score <= q.max_total:
        raise ValueError(f"{q.name} total must be 0-{q.max_total}, got {score}")
    label = q.bands[0][1]
    for low, name in q.bands:
        if score >= low:
            label = name
    return label


def band_ranges(q: Questionnaire) -> list[tuple[int, int, str]]:
    """The bands as ``(lowest, highest, label)`` totals (GAD-7: 0–4, 5–9, 10–14, 15–21)."""
    out = []
    for k, (low, name) in enumerate(q.bands):
        high = q.bands[k + 1][0] - 1 if k + 1 < len(q.bands) else q.max_total
        out.append((low, high, name))
    return out


def positive_screen(q: Questionnaire, score: int) -> bool:
    """Whether a total reaches the questionnaire's cutoff (≥ 10)."""
    return score >= q.cutoff


@dataclass(frozen=True)
class ReliableChange:
    """The Jacobson–Truax reliable change between two totals.

    Attributes
    ----------
    first, latest : int
        The totals compared.
    change : int
        ``latest − first`` (negative: fewer symptoms).
    rci : float
        ``change / S_diff``.
    reliable : bool
        ``|rci| > 1.96``.
    direction : str
        ``"improved"``, ``"deteriorated"`` or ``"no reliable change"``.
    params : RciParameters
        The SD and r used.
    """

    first: int
    latest: int
    change: int
    rci: float
    reliable: bool
    direction: str
    params: RciParameters


def reliable_change(key: str, first: int, latest: int) -> ReliableChange:
    """The Jacobson–Truax RCI of a questionnaire's total from ``first`` to ``latest``.

    Higher totals mean more symptoms on both questionnaires, so a reliable fall is an
    improvement.

    Parameters
    ----------
    key : str
        ``gad7`` or ``phq9`` (selects :data:`RCI_PARAMETERS`).
    first, latest : int
        The totals.

    Returns
    -------
    change : ReliableChange
    """
    params = RCI_PARAMETERS[questionnaire(key).key]
    change = int(latest) - int(first)
    rci = change / params.s_diff
    reliable = abs(rci) > RELIABLE_Z
    if not reliable:
        direction = "no reliable change"
    else:
        direction = "improved" if change < 0 else "deteriorated"
    return ReliableChange(int(first), int(latest), change, rci, reliable, direction, params)
