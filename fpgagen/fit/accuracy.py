"""The accuracy figures of a build as the reports show them (measured by
:class:`fpgagen.build_accuracy.AccuracyProbe`)."""

__all__ = ["NOT_MEASURED", "accuracy_text"]

#: What the reports say where no accuracy was measured.
NOT_MEASURED = "accuracy not measured"


def accuracy_text(acc: dict | None) -> str:
    """One line: ``int top-1 61.0% / top-5 80.0% (float 62.0% / 82.0%), agreement 90.0%, 50
    images``, or :data:`NOT_MEASURED`."""
    if not acc:
        return NOT_MEASURED
    f, i = acc["float"], acc["int"]
    return (f"int top-1 {100 * i['top1']:.1f}% / top-5 {100 * i['top5']:.1f}% (float "
            f"{100 * f['top1']:.1f}% / {100 * f['top5']:.1f}%), agreement "
            f"{100 * acc['agreement']:.1f}%, {acc['images']} images")
