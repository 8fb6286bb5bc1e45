"""Text of ``--help``: the input formats a SPEC may name, and examples (one place for both the
top-level help and ``analyze``/``replay``). Built from
:data:`~coregulate.sensors.spec.KNOWN_FORMATS`, so a new format is listed as soon as it exists;
:data:`FORMAT_HELP` only adds a one-line description."""

from __future__ import annotations

from ...sensors.spec import KNOWN_FORMATS

#: One line per format (README "Recorded inputs" has the options in full).
FORMAT_HELP = {
    "polar": "Polar Sensor Logger ECG/ACC/RR/HR .txt",
    "rr": "one RR interval per line (Kubios, Elite HRV); ?unit=ms|s",
    "hrvlogger": "HRV Logger 'date,rr,since start' export",
    "csv": "any delimited text; ?time=COL:s|ms|iso or ?rate=HZ, ?ecg=COL:mV, ?rr=, ?hr=, ?eda=, ...",
    "edf": "EDF/EDF+; ?ecg=LABEL&eda=LABEL (default: common labels); annotations kept",
    "wfdb": "PhysioNet record (name, .hea, .dat); ?eda=hand|foot",
    "xdf": "Lab Streaming Layer XDF; ?type=ECG,EDA&name=client",
    "wav": "audio, one person per file or ?channel=N",
    "flac": "audio, as wav",
    "audio": "any audio file soundfile reads (ogg, ...), as wav",
    "e4": "unzipped Empatica E4 folder (BVP, EDA, ACC, HR, TEMP, IBI, tags)",
    # formats other branches add (listed by KNOWN_FORMATS once they exist)
    "mea": "frame-wise motion energy (rMEA/MEA export, one column per person); ?column=&rate=, or mea:FILE for both",
    "video": "a video file -> motion energy; one camera for both: video:FILE?client=X0,Y0,X1,Y1&therapist=...",
}

EXAMPLES = """\
examples:
  coregulate analyze sim --out results/sim
      the simulated dyad (20 min, known ground truth): summary.csv, report.html, ...
  coregulate analyze client=polar:C07_ecg.txt therapist=rr:T02_rr.txt --baseline 0-300 --out results/s01
      two recordings, one per person, with an explicit 5-minute baseline
  coregulate batch study.csv --out results/ --jobs 2
      every session of a manifest, resumable, with a study table"""


def formats_table() -> str:
    """``input formats (ROLE=FORMAT:PATH; without FORMAT it is detected from the content):`` and a line each."""
    width = max(len(f) for f in KNOWN_FORMATS)
    lines = ["input formats (ROLE=FORMAT:PATH?key=value&...; without FORMAT: detected from the content):"]
    lines += [f"  {f:<{width}}  {FORMAT_HELP.get(f, 'see README, Recorded inputs')}" for f in KNOWN_FORMATS]
    lines.append(f"  {'sim':<{width}}  the simulator: a whole dyad on its own, no ROLE (sim?seed=N&duration=S&audio=0)")
    lines.append(f"  {'session':<{width}}  a recorded session.sqlite (replays every stream; no ROLE)")
    return "\n".join(lines)


FORMATS_AND_EXAMPLES = formats_table() + "\n\n" + EXAMPLES
