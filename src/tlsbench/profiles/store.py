"""ProfileStore: the profile files on disk, read one by one so a broken file never hides the others.

Layout under the config directory (``tlsbench.locations.config_dir()`` unless a root is given)::

    profiles/<name>.toml    one profile each (format: tlsbench.profiles.codec)
    state.toml              last_used = "<name>"

Rules: a file that cannot be read or parsed is reported (file and line) and never rewritten or
deleted by loading; saving over such a file is refused. Writes are atomic and private (0600 files,
0700 directories); a symlinked profile file stays a symlink. Passwords are never written.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tlsbench.locations import ensure_private_dir
from tlsbench.profiles.atomic import write_private_text
from tlsbench.profiles.codec import FormatError, data_to_profile, find_key_line, parse_text, profile_to_data
from tlsbench.profiles.model import Profile, ProfileError, ProfileProblem, check_name, is_valid_name

__all__ = ["LoadReport", "Profile", "ProfileError", "ProfileProblem", "ProfileStore"]

SUFFIX = ".toml"
_MAX_FILE = 1 << 20  # a profile is a few hundred bytes; refuse to slurp something huge by mistake


@dataclass
class LoadReport:
    profiles: dict[str, Profile] = field(default_factory=dict)
    problems: list[ProfileProblem] = field(default_factory=list)


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
        report = LoadReport()
        if not self.profiles_dir.is_dir():
            return report
        for entry in sorted(self.profiles_dir.iterdir(), key=lambda p: p.name.lower()):
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

    def get(self, name: str) -> Profile:
        path = self.path_for(name)
        if not (path.exists() or path.is_symlink()):
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
        or when the existing file is broken (it is then left exactly as it is).
        """
        # tomlkit (to keep a person's comments) only when writing: reading needs tomllib alone.
        from tlsbench.profiles.update import UpdateError, new_document, update_document

        path = self.path_for(profile.name)
        data = profile_to_data(profile)
        if path.exists():
            if not overwrite:
                raise ProfileError(f"a profile named {profile.name!r} already exists ({path})", path=path)
            text, problem = _read(path)
            if problem is None:
                try:
                    parse_text(text)
                except FormatError as exc:
                    problem = ProfileProblem(path, exc.line, str(exc))
            if problem is not None:
                raise ProfileError(f"not saved: {problem}; the file is broken, fix or delete it by hand",
                                   path=path, line=problem.line)
            try:
                new_text = update_document(text, data)
            except UpdateError as exc:
                raise ProfileError(f"not saved: {path}: {exc}", path=path) from None
        else:
            new_text = new_document(data)
        return self._write(path, new_text)

    def delete(self, name: str) -> Path:
        path = self.path_for(name)
        if not (path.exists() or path.is_symlink()):
            raise ProfileError(f"no profile named {name!r}", path=path)
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
        return self._write(target, self.read_text(name))

    def _write(self, path: Path, text: str) -> Path:
        try:
            # The config root first, so it too is private when this store creates it.
            ensure_private_dir(self.root)
            return write_private_text(path, text)
        except OSError as exc:
            raise ProfileError(f"cannot write {path}: {exc.strerror or exc}", path=path) from None

    # --- state -----------------------------------------------------------------------------------

    def last_used(self) -> str | None:
        """The last used profile's name, when that profile still exists."""
        name = self._state_value()
        if name is None or not is_valid_name(name) or not self.exists(name):
            return None
        return name

    def set_last_used(self, name: str | None) -> None:
        if name is not None:
            check_name(name)
        self._write_state(name)

    def _state_value(self) -> str | None:
        if not self.state_path.exists():
            return None
        text, problem = _read(self.state_path)
        if problem is not None:
            return None
        try:
            value = parse_text(text).get("last_used")
        except FormatError:
            return None
        return value if isinstance(value, str) else None

    def _write_state(self, name: str | None) -> None:
        """Record the last used profile; a hand-broken state file is left alone (ProfileError)."""
        import tomlkit

        data = {"last_used": name} if name is not None else {}
        if self.state_path.exists():
            text, problem = _read(self.state_path)
            if problem is None:
                try:
                    parse_text(text)
                except FormatError as exc:
                    problem = ProfileProblem(self.state_path, exc.line, str(exc))
            if problem is not None:
                raise ProfileError(f"last used profile not recorded: {problem}; fix or delete the file by hand",
                                   path=self.state_path, line=problem.line)
            doc = tomlkit.parse(text)
            if name is None:
                doc.pop("last_used", None)
            elif doc.get("last_used") != name:
                doc["last_used"] = name
            new_text = doc.as_string()
        else:
            doc = tomlkit.document()
            doc.add(tomlkit.comment("tlsbench state"))
            for key, value in data.items():
                doc.add(key, value)
            new_text = doc.as_string()
        self._write(self.state_path, new_text)


def _read(path: Path) -> tuple[str, ProfileProblem | None]:
    """The file's text, or a problem saying why it cannot be read."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(_MAX_FILE + 1)
    except FileNotFoundError:
        return "", ProfileProblem(path, None, "file not found (a dangling symlink?)")
    except IsADirectoryError:
        return "", ProfileProblem(path, None, "is a directory, not a file")
    except OSError as exc:
        return "", ProfileProblem(path, None, f"cannot read: {exc.strerror or exc}")
    if len(raw) > _MAX_FILE:
        return "", ProfileProblem(path, None, f"file is larger than {_MAX_FILE} bytes; not a profile")
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        return "", ProfileProblem(path, line, f"not UTF-8 text (byte 0x{raw[exc.start]:02x})")
