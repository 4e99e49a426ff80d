"""The count-based bar: Kneser-Ney n-grams on the study's chunks (results/baseline*.json)."""

from results.pages.common import load, shown, table

NGRAM = (6, 3)  # the count-based bar: modified Kneser-Ney (3 discounts), order 6


def ngram(context: int = 0) -> dict:
    """The modified-KN 6-gram's row of the baseline run (scored without or with preceding characters),
    with the run's chunk counts."""
    b = load("results/baseline.json" if context == 0 else f"results/baseline-context{context}.json")
    row = next(r for r in b["results"] if (r["order"], r["discounts"]) == NGRAM)
    return row | {k: v for k, v in b.items() if k.endswith("_chunks")}


def baseline() -> str:
    b = load("results/baseline.json")
    rows = []
    cell = lambda r, k: f"{r[k]:.4f}" if k in r else "-"
    for path, suffix in (
        ("results/baseline.json", ""),
        ("results/baseline-context60.json", ", 60 chars of context"),
    ):
        by_order = {(r["order"], r["discounts"]): r for r in load(path)["results"]}
        for order in sorted({o for o, _ in by_order}):
            one, three = by_order.get((order, 1), {}), by_order.get((order, 3), {})
            rows.append([f"{order}{suffix}", cell(one, "val_loss"), cell(one, "unseen_loss"),
                         cell(three, "val_loss"), cell(three, "unseen_loss")])  # fmt: skip
    header = ["n-gram order", "KN, one discount: val loss", "unseen loss",
              "modified KN (3 discounts): val loss", "unseen loss"]  # fmt: skip
    intro = (
        f"`{shown(b['command'])}`: {b['val_chunks']:,} validation chunks, "
        f"{b['unseen_chunks']:,} unseen-play chunks."
    )
    return intro + "\n\n" + table(header, rows)


BLOCKS = {"baseline": baseline}
