"""ProfileStore: the profile files on disk, read one by one so a broken file never hides the others.

Layout under the config directory (``tlsbench.locations.config_dir()`` unless a root is given)::

    profiles/<name>.toml    one profile each (format: tlsbench.profiles.codec)
    state.toml              last_used = "<name>"

Rules: a file that cannot be read or parsed is reported (file and line) and never rewritten or
deleted by loading; saving over such a file is refused. Files are read and written only through
`tlsbench.safe_files`: a FIFO, device, socket or directory in their place is refused at once (never
waited on), and tlsbench writes only over a file that loads as what it is meant to be (a profile, a
state file). Writes are atomic; new files are private (0600 files, 0700 directories); a symlinked
profile that is a valid profile stays a symlink and is written through. Passwords are never written.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tlsbench.locations import ensure_private_dir
from tlsbench.profiles.codec import FormatError, data_to_profile, find_key_line, parse_text, profile_to_data
from tlsbench.profiles.model import Profile, ProfileError, ProfileProblem, check_name, is_valid_name
from tlsbench.safe_files import FileMissing, FileRefused, read_regular, replace_checked

__all__ = ["LoadReport", "Profile", "ProfileError", "ProfileProblem", "ProfileStore"]

SUFFIX = ".toml"
_MAX_FILE = 1 << 20  # a profile is a few hundred bytes; refuse to slurp something huge by mistake
_BOM = b"\xef\xbb\xbf"


@dataclass
class LoadReport:
    profiles: dict[str, Profile] = field(default_factory=dict)
    problems: list[ProfileProblem] = field(default_factory=list)
    unusable: bool = False  # the profiles directory itself cannot be read (its problem is the only one)


class ProfileStore:
    def __init__(self, root: Path | None = None, *, environ: Mapping[str, str] | None = None) -> None:
        if root is None:
            from tlsbench.locations import config_dir

            root = config_dir()
        self.root = Path(root)
        self.profiles_dir = self.root / "profiles"
        self.state_path = self.root / "state.toml"
        self._environ = environ  # None: os.environ at load time (password variables)

    # --- reading ---------------------------------------------------------------------------------

    def path_for(self, name: str) -> Path:
        return self.profiles_dir / f"{check_name(name)}{SUFFIX}"

    def names(self) -> list[str]:
        """Names of every profile file (loadable or not), sorted."""
        if not self.profiles_dir.is_dir():
            return []
        found = []
        for entry in self.profiles_dir.iterdir():
            stem = entry.name[:-len(SUFFIX)] if entry.name.endswith(SUFFIX) else None
            if stem and is_valid_name(stem):
                found.append(stem)
        return sorted(found, key=str.lower)

    def load_all(self) -> LoadReport:
        """Every profile that loads, and one problem per file that does not: a bad file never hides the
        good ones. A profiles directory that is not one (a file, a dangling link) or cannot be listed is
        the report's only problem, with `unusable` set; no directory at all is no profiles yet."""
        report = LoadReport()
        try:
            entries = self._entries()
        except OSError as exc:
            report.problems.append(ProfileProblem(self.profiles_dir, None, _directory_reason(self.profiles_dir, exc)))
            report.unusable = True
            return report
        for entry in entries:
            if not entry.name.endswith(SUFFIX) or entry.name.startswith("."):
                continue  # hidden files include our own temporary files
            stem = entry.name[:-len(SUFFIX)]
            if not is_valid_name(stem):
                report.problems.append(ProfileProblem(entry, None, "file name is not a valid profile name "
                                                      "(letters, digits, '.', '-', '_'); rename it to load it"))
                continue
            result = self._load_file(stem, entry)
            if isinstance(result, Profile):
                report.profiles[stem] = result
            else:
                report.problems.append(result)
        return report

    def _entries(self) -> list[Path]:
        """The profiles directory's entries by name (none when there is no directory); OSError otherwise."""
        if not (self.profiles_dir.exists() or self.profiles_dir.is_symlink()):
            return []
        if not self.profiles_dir.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "not a directory", str(self.profiles_dir))
        return sorted(self.profiles_dir.iterdir(), key=lambda p: p.name.lower())

    def get(self, name: str) -> Profile:
        path = self.path_for(name)
        if not (path.exists() or path.is_symlink()):
            try:
                self._entries()
            except OSError as exc:  # the directory itself is the problem: say that, not "no profile"
                problem = ProfileProblem(self.profiles_dir, None, _directory_reason(self.profiles_dir, exc))
                raise ProfileError(str(problem), path=self.profiles_dir) from None
            raise ProfileError(f"no profile named {name!r} (looked for {path})", path=path)
        result = self._load_file(name, path)
        if isinstance(result, ProfileProblem):
            raise ProfileError(f"profile {name!r} is broken: {result}", path=result.path, line=result.line)
        return result

    def exists(self, name: str) -> bool:
        path = self.path_for(name)
        return path.exists() or path.is_symlink()

    def read_text(self, name: str) -> str:
        """The file as a person wrote it (for `profiles show`)."""
        path = self.path_for(name)
        text, problem = _read(path)
        if problem is not None:
            raise ProfileError(str(problem), path=path, line=problem.line)
        return text

    def _load_file(self, name: str, path: Path) -> Profile | ProfileProblem:
        text, problem = _read(path)
        if problem is not None:
            return problem
        return self._parse(name, path, text)

    def _load_text(self, name: str, path: Path, raw: bytes) -> Profile | ProfileProblem:
        text, problem = _decode(path, raw)
        return problem if problem is not None else self._parse(name, path, text)

    def _parse(self, name: str, path: Path, text: str) -> Profile | ProfileProblem:
        try:
            data = parse_text(text)
            return data_to_profile(name, data, path=path, environ=self._environ)
        except FormatError as exc:
            line = exc.line if exc.line is not None else find_key_line(text, exc.table, exc.key)
            if line is None and exc.table:
                # the table's header, or `table = {...}` written inline at the top level
                line = find_key_line(text, exc.table, None) or find_key_line(text, "", exc.table)
            return ProfileProblem(path, line, str(exc))

    # --- writing ---------------------------------------------------------------------------------

    def save(self, profile: Profile, *, overwrite: bool = True) -> Path:
        """Write the profile; an existing file is updated in place (comments and unknown keys kept).

        Raises ProfileError when the name is invalid, when the file exists and overwrite is False,
        or when what is there does not load as a profile (a broken file, a link to some other file,
        a FIFO, a directory): it is then left exactly as it is.
        """
        # tomlkit (to keep a person's comments) only when writing: reading needs tomllib alone.
        from tlsbench.profiles.update import UpdateError, new_document, update_document

        path = self.path_for(profile.name)
        data = profile_to_data(profile)
        _check_storable(data, path)
        if not overwrite and (path.exists() or path.is_symlink()):
            raise ProfileError(f"a profile named {profile.name!r} already exists ({path})", path=path)

        def new(existing: bytes | None) -> bytes:
            if existing is None:
                return new_document(data).encode("utf-8")
            bom = _BOM if existing.startswith(_BOM) else b""  # kept as the person's editor wrote it
            try:
                return bom + update_document(existing[len(bom):].decode("utf-8"), data).encode("utf-8")
            except UpdateError as exc:
                raise ProfileError(f"not saved: {path}: {exc}", path=path) from None

        return self._replace(path, new, lambda raw: self._not_a_profile(profile.name, path, raw),
                             "the file is broken, fix or delete it by hand")

    def delete(self, name: str) -> Path:
        path = self.path_for(name)
        if not (path.exists() or path.is_symlink()):
            raise ProfileError(f"no profile named {name!r}", path=path)
        if not path.is_symlink():
            _refuse_odd_entry(path, "not deleted")
        path.unlink()  # a symlink: the link goes, what it points to stays
        if self._state_value() == name:
            self._write_state(None)
        return path

    def rename(self, old: str, new: str) -> Path:
        source, target = self.path_for(old), self.path_for(new)
        if not (source.exists() or source.is_symlink()):
            raise ProfileError(f"no profile named {old!r}", path=source)
        if old == new:
            return source
        if target.exists() or target.is_symlink():
            raise ProfileError(f"a profile named {new!r} already exists ({target})", path=target)
        if not source.is_symlink():
            _refuse_odd_entry(source, "not renamed")
        # The file moves as it is, comments and all (a symlink is moved as a link).
        os.rename(source, target)
        if self._state_value() == old:
            self._write_state(new)
        return target

    def duplicate(self, name: str, new: str) -> Path:
        self.get(name)  # refuses a missing or broken source with its file and line
        target = self.path_for(new)
        if target.exists() or target.is_symlink():
            raise ProfileError(f"a profile named {new!r} already exists ({target})", path=target)
        text = self.read_text(name).encode("utf-8")
        return self._replace(target, lambda existing: text, lambda raw: "is in the way", "")

    def _replace(self, path: Path, new, accept, advice: str) -> Path:
        """Write through tlsbench.safe_files; every refusal becomes one ProfileError naming the file."""
        problems: list[ProfileProblem] = []

        def check(raw: bytes) -> str | None:
            reason = accept(raw)
            if isinstance(reason, ProfileProblem):
                problems.append(reason)
                return reason.message
            return reason

        try:
            # The config root first, so it too is private when this store creates it.
            ensure_private_dir(self.root)
            ensure_private_dir(path.parent)
            return replace_checked(path, new, accept=check, limit=_MAX_FILE, what="profile")
        except FileRefused as exc:
            if problems:
                problem = problems[0]
                if problem.path != path:  # a link: name both the link and the file it points to
                    problem = ProfileProblem(path, problem.line, f"{problem.message} (in {problem.path})")
                raise ProfileError(f"not saved: {problem}; {advice}", path=path, line=problem.line) from None
            raise ProfileError(f"not saved: {exc}", path=path) from None
        except OSError as exc:
            raise ProfileError(f"cannot write {path}: {exc.strerror or exc}", path=path) from None

    def _not_a_profile(self, name: str, path: Path, raw: bytes) -> ProfileProblem | None:
        """None when `raw` loads as a profile; else the problem (what `profiles list` would report)."""
        result = self._load_text(name, Path(os.path.realpath(path)), raw)
        return result if isinstance(result, ProfileProblem) else None

    # --- state -----------------------------------------------------------------------------------

    def last_used(self) -> str | None:
        """The last used profile's name, when that profile still exists."""
        name = self._state_value()
        if name is None or not is_valid_name(name) or not self.exists(name):
            return None
        return name

    def state_problem(self) -> str | None:
        """One line saying why the state file cannot be read (too big, not text, not TOML...), or None."""
        if not (self.state_path.exists() or self.state_path.is_symlink()):
            return None
        text, problem = _read(self.state_path)
        if problem is None:
            try:
                problem = _state_problem(parse_text(text), self.state_path)
            except FormatError as exc:
                problem = ProfileProblem(self.state_path, exc.line, str(exc))
        if problem is None:
            return None
        from tlsbench.visible import visible

        where = f"{self.state_path}" + (f", line {problem.line}" if problem.line else "")
        return visible(f"{where}: {problem.message}", keep_newlines=False)

    def set_last_used(self, name: str | None) -> None:
        if name is not None:
            check_name(name)
        self._write_state(name)

    def _state_value(self) -> str | None:
        if not (self.state_path.exists() or self.state_path.is_symlink()):
            return None
        text, problem = _read(self.state_path)
        if problem is not None:
            return None
        try:
            data = parse_text(text)
        except FormatError:
            return None
        value = data.get("last_used")
        return value if isinstance(value, str) and _state_problem(data) is None else None

    def _write_state(self, name: str | None) -> None:
        """Record the last used profile; a file that is not a state file is left alone (ProfileError)."""
        import tomlkit

        def new(existing: bytes | None) -> bytes:
            if existing is None:
                doc = tomlkit.document()
                doc.add(tomlkit.comment("tlsbench state"))
                if name is not None:
                    doc.add("last_used", name)
                return doc.as_string().encode("utf-8")
            bom = _BOM if existing.startswith(_BOM) else b""
            doc = tomlkit.parse(existing[len(bom):].decode("utf-8"))
            if name is None:
                doc.pop("last_used", None)
            elif doc.get("last_used") != name:
                doc["last_used"] = name
            return bom + doc.as_string().encode("utf-8")

        def accept(raw: bytes) -> ProfileProblem | None:
            text, problem = _decode(self.state_path, raw)
            if problem is None:
                try:
                    problem = _state_problem(parse_text(text), self.state_path)
                except FormatError as exc:
                    problem = ProfileProblem(self.state_path, exc.line, str(exc))
            return problem

        self._replace(self.state_path, new, accept, "last used profile not recorded; fix or delete the file by hand")


def _state_problem(data: dict, path: Path | None = None) -> ProfileProblem | None:
    """A state file holds `last_used = "<name>"` and nothing else of tlsbench's; no tables."""
    if "last_used" in data and not isinstance(data["last_used"], str):
        return ProfileProblem(path or Path(), None, "last_used is not a string: not a tlsbench state file")
    tables = [k for k, v in data.items() if isinstance(v, (dict, list))]
    if tables:
        return ProfileProblem(path or Path(), None, f"holds {tables[0]!r}, which no tlsbench state file has")
    return None


def _check_storable(data: dict, path: Path) -> None:
    """TOML is UTF-8 text: refuse what it cannot hold (raw --send bytes) rather than fail half-way."""
    app = data.get("app") or {}
    send = app.get("send")
    if isinstance(send, str):
        try:
            send.encode("utf-8")
        except UnicodeEncodeError as exc:
            from tlsbench.engine.findings.checks import escape_text

            raise ProfileError(f"not saved: the text to send holds bytes that are not UTF-8 "
                               f"({escape_text(send[exc.start:exc.end])}); a profile stores text only",
                               path=path) from None


def _directory_reason(path: Path, exc: OSError) -> str:
    """Why the profiles directory cannot be listed, in words (the profiles list says it, exit 2)."""
    import stat as stat_mod

    from tlsbench.safe_files import file_kind

    try:
        mode = os.stat(path).st_mode
    except OSError as inner:
        if inner.errno == errno.ELOOP:
            return "is a symbolic link loop, not a directory: no profile can be read"
        if os.path.islink(path):
            return "is a symbolic link to nothing, not a directory: no profile can be read"
        return f"cannot be read: {inner.strerror or inner}"
    if not stat_mod.S_ISDIR(mode):
        kind = "a regular file" if stat_mod.S_ISREG(mode) else file_kind(mode)
        return f"is {kind}, not a directory: no profile can be read"
    return f"cannot be read: {exc.strerror or exc}; no profile can be read"


def _refuse_odd_entry(path: Path, what: str) -> None:
    """A FIFO, socket, device or directory under a profile's name is not ours to touch."""
    import stat as stat_mod

    from tlsbench.safe_files import file_kind

    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return
    if not stat_mod.S_ISREG(mode):
        raise ProfileError(f"{path}: is {file_kind(mode)}, not a profile file; {what}, left alone", path=path)


def _read(path: Path) -> tuple[str, ProfileProblem | None]:
    """The file's text, or a problem saying why it cannot be read (never blocks: tlsbench.safe_files)."""
    try:
        raw = read_regular(path, limit=_MAX_FILE, what="profile")
    except FileMissing:
        return "", ProfileProblem(path, None, "file not found")
    except FileRefused as exc:
        return "", ProfileProblem(path, None, exc.reason)
    return _decode(path, raw)


def _decode(path: Path, raw: bytes) -> tuple[str, ProfileProblem | None]:
    """UTF-8 text, a leading byte-order mark allowed (some editors write one); no NUL bytes."""
    try:
        text = raw.removeprefix(_BOM).decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        return "", ProfileProblem(path, line, f"not UTF-8 text (byte 0x{raw[exc.start]:02x})")
    if "\x00" in text:
        line = text[:text.index("\x00")].count("\n") + 1
        return "", ProfileProblem(path, line, "holds a NUL byte: not a text file")
    return text, None
