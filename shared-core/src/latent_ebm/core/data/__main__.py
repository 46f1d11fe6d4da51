"""``python -m latent_ebm.core.data list | path [DATASET [FILE]] | verify [DATASET ...] [--download]``."""

from __future__ import annotations

import argparse
import sys

from . import cache_path, data_dir, registry, verify_dataset

__all__ = ["main"]


def _list() -> int:
    from latent_ebm.core.cli import import_method_packages

    import_method_packages()  # datasets registered by the installed method packages (cifar10, ...)
    root = data_dir()
    print(f"data dir: {root}  (set LATENT_EBM_DATA_DIR to change it)")
    for name, spec in registry().items():
        present = sum((root / name / f.name).is_file() for f in spec.files)
        print(f"{name:<26} {present:>3}/{len(spec.files):<3} files present  {spec.description}")
    return 0


def _verify(names: list[str], download: bool) -> int:
    bad = 0
    for name in names or list(registry()):
        for st in verify_dataset(name, download=download):
            print(f"{st.status:<8} {st.dataset}/{st.name}")
            if st.status == "corrupt" or (download and st.status == "missing"):
                bad += 1
                print("         " + st.detail.replace("\n", "\n         "))
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m latent_ebm.core.data", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="registered datasets and how many of their files are cached")
    p_path = sub.add_parser(
        "path", help="print the cache folder, a dataset's folder or a file's path"
    )
    p_path.add_argument("dataset", nargs="?")
    p_path.add_argument("file", nargs="?")
    p_verify = sub.add_parser(
        "verify", help="check cached files against their sha256 (exit 1 if any is bad)"
    )
    p_verify.add_argument("datasets", nargs="*", help="datasets to check (default: all)")
    p_verify.add_argument("--download", action="store_true", help="download missing files first")
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            return _list()
        if args.command == "path":
            print(cache_path(args.dataset, args.file) if args.dataset else data_dir())
            return 0
        return _verify(args.datasets, args.download)
    except ValueError as err:  # unknown dataset or file name
        parser.error(str(err))
    return 2


if __name__ == "__main__":
    sys.exit(main())
