"""The release commit: a subject that says what changed, and trailers that ``rollback`` and
``history`` read back. Written and read here only, so the two sides cannot drift apart.

A release commit (``bump-image``, ``deploy``, ``rollback``, the revert of ``abort`` and of a failed
``deploy``) ends with::

    Release-App: myapp
    Release-Path: apps/myapp
    Release-Image: ikubernetes/myapp:v2
    Release-Previous: ikubernetes/myapp:v1
    Release-Digest: sha256:...

``Release-Digest`` is the digest the registry gave for ``Release-Image`` when the release was
written (``--pin-digest``, or the registry check): ``rollback`` compares it with the registry's
digest now, to tell a tag that was re-pushed since it was deployed.
A revert's subject starts with ``revert(APP):``; ``rollback`` skips the images a revert moved away
from (failed releases).

A release set (several apps in one commit) starts its trailers with ``Release-Set: api, worker``
and then repeats the group above once per app, each group starting at its ``Release-App``;
readers pick the group of the app (by path) they are asked about.
"""

from __future__ import annotations

from typing import NamedTuple

from gitops_release.git.repo import Git

APP, PATH, IMAGE, PREVIOUS = "Release-App", "Release-Path", "Release-Image", "Release-Previous"
DIGEST = "Release-Digest"
VALUES = "Release-Values"
"""A Helm app's values files in a release set, as its Application names them (comma-separated,
relative to the chart): ``rollback --set`` edits the same file back."""
SET = "Release-Set"
"""A release set: the apps of the commit, in the order of their groups."""
PROMOTED_FROM = "Promoted-From"
"""``env promote``: ``Promoted-From: staging@<commit>``, the environment and the commit it ran."""
TRAILERS = (APP, IMAGE, PREVIOUS, DIGEST, VALUES, PROMOTED_FROM, SET)
"""The trailers read back (the path is written for people and tools reading the log)."""
_SEP, _END = "\x1f", "\x1e"


# -- writing ----------------------------------------------------------------------------------


def release_message(
    subject: str,
    *,
    app: str,
    path: str,
    image: str,
    previous: str,
    digest: str = "",
    extra: tuple[tuple[str, str], ...] = (),
    values: tuple[str, ...] = (),
) -> str:
    """``subject``, a blank line, then the trailers (``Release-Values``, ``Release-Previous``
    and ``Release-Digest`` only when known, then ``extra``, e.g. :func:`promoted_from`)."""
    lines = [f"{APP}: {app}", f"{PATH}: {path}"]
    if values:
        lines.append(f"{VALUES}: {', '.join(values)}")
    lines.append(f"{IMAGE}: {image}")
    if previous:
        lines.append(f"{PREVIOUS}: {previous}")
    if digest:
        lines.append(f"{DIGEST}: {digest}")
    lines += [f"{key}: {value}" for key, value in extra]
    return subject + "\n\n" + "\n".join(lines) + "\n"


class Group(NamedTuple):
    """One app's trailers in a release set's commit."""

    app: str
    path: str
    image: str
    previous: str = ""
    digest: str = ""
    extra: tuple[tuple[str, str], ...] = ()
    values: tuple[str, ...] = ()


def set_message(subject: str, groups: list[Group]) -> str:
    """``subject``, a blank line, ``Release-Set: APP, APP`` and one trailer group per app."""
    lines = [f"{SET}: {', '.join(g.app for g in groups)}"]
    for g in groups:
        body = release_message(
            "", app=g.app, path=g.path, image=g.image, previous=g.previous, digest=g.digest,
            extra=g.extra, values=g.values,
        )  # fmt: skip
        lines += body.strip("\n").splitlines()
    return subject + "\n\n" + "\n".join(lines) + "\n"


def promoted_from(env: str, commit: str) -> tuple[str, str]:
    return (PROMOTED_FROM, f"{env}@{commit}")


def revert_subject(app: str, back_to: str, after: str) -> str:
    """``revert(APP): back to v1 after v2 failed [skip ci]``: what ``rollback`` recognises."""
    return f"revert({app}): back to {back_to} after {after} [skip ci]"


def rollback_subject(app: str, current: str, target: str) -> str:
    return f"rollback({app}): {current} -> {target} [skip ci]"


# -- reading ----------------------------------------------------------------------------------


def parse(message: str) -> dict[str, str]:
    """``Key: value`` lines of the last paragraph of a commit message (git trailers)."""
    paragraph = message.strip().split("\n\n")[-1]
    found = {}
    for line in paragraph.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() in TRAILERS:
            found[key.strip()] = value.strip()
    return found


def groups(message: str) -> list[dict[str, str]]:
    """The trailer groups of a commit message: one per ``Release-App`` (a release set has
    several), each with its own keys and the ``Release-Set`` line when there is one."""
    paragraph = message.strip().split("\n\n")[-1]
    found: list[dict[str, str]] = []
    common: dict[str, str] = {}
    for line in paragraph.splitlines():
        key, sep, value = line.partition(":")
        key = key.strip()
        if not sep or (key not in TRAILERS and key != PATH):
            continue
        if key == SET:
            common[SET] = value.strip()
            continue
        if key == APP or not found:
            found.append(dict(common))
        found[-1][key] = value.strip()
    return found


def set_apps(message: str) -> list[str]:
    """The apps of a release set's commit ([] for a commit of one app)."""
    value = parse(message).get(SET, "")
    return [a.strip() for a in value.split(",") if a.strip()]


def for_path(message: str, path: str) -> dict[str, str]:
    """The trailers of the app at ``path`` (a commit of one app: its only group; a set: the
    group whose ``Release-Path`` is ``path``, or contains it or lies inside it)."""
    found = groups(message)
    if len(found) <= 1 or not path:
        return found[0] if found else {}
    want = path.strip("/").removeprefix("./") or "."
    for group in found:
        have = group.get(PATH, "").strip("/") or "."
        if have == want or have.startswith(want + "/") or want.startswith(have + "/"):
            return group
    return {}


def is_revert(subject: str) -> bool:
    return subject.startswith("revert(")


class Released(NamedTuple):
    """One release commit of an app, as its trailers say."""

    image: str
    previous: str
    revert: bool
    digest: str = ""
    """The registry's digest of ``image`` when it was released ("" when not recorded)."""


def releases(run: Git, path: str, depth: int) -> list[Released]:
    """The release commits that touched ``path``, newest first (up to ``depth`` commits read)."""
    fmt = _SEP.join(("%H", "%s", "%B")) + _END
    status, text, _ = run.status("log", f"-n{depth}", f"--format={fmt}", "--", path)
    found = []
    for chunk in text.split(_END) if status == 0 else []:
        parts = chunk.strip().split(_SEP)
        if len(parts) < 3:
            continue
        trailers = for_path(parts[2], path)
        image = trailers.get(IMAGE, "")
        if image:
            found.append(
                Released(
                    image, trailers.get(PREVIOUS, ""), is_revert(parts[1]), trailers.get(DIGEST, "")
                )
            )
    return found


def message_of(run: Git, revision: str) -> tuple[str, str] | None:
    """(full sha, message) of the commit ``revision`` names, or None when git does not know it."""
    status, out, _ = run.status("log", "-n", "1", f"--format=%H{_SEP}%B", revision, "--")
    if status != 0 or _SEP not in out:
        return None
    sha, message = out.split(_SEP, 1)
    return sha.strip(), message


def commit_at(run: Git, revision: str, path: str) -> dict[str, str] | None:
    """The newest commit at or before ``revision`` that touched ``path``: sha, author, date,
    message (None when there is none or git cannot tell)."""
    fmt = _SEP.join(("%H", "%an", "%aI", "%B")) + _END
    status, out, _ = run.status("log", "-n", "1", f"--format={fmt}", revision, "--", path)
    if status != 0 or not out.strip():
        return None
    sha, author, date, body = [*out.strip().rstrip(_END).split(_SEP), "", "", ""][:4]
    return {"sha": sha, "author": author, "date": date, "message": body}
