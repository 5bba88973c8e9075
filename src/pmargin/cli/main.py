"""The ``pmargin`` command line: a thin adapter over :mod:`pmargin.engine`.

One command per module (``_<name>_command.py``), registered at the end of this file. Every
command module imports the library inside its body, so ``pmargin --help`` and the start of
every command load only Typer and rich (help that lists the library's names is filled in
when the command is resolved: :mod:`pmargin.cli._help`).

Every error caused by input (files, symbols, market data) is printed on one line to stderr
and exits with code 2; no traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Annotated, Any, TypeVar

import typer

from pmargin import __version__
from pmargin.cli._backtest_command import backtest
from pmargin.cli._check_order_command import check_order
from pmargin.cli._coercion import install as install_plain_coercion
from pmargin.cli._compare_command import compare
from pmargin.cli._consolidate_command import consolidate
from pmargin.cli._data_command import register_data
from pmargin.cli._demo_command import demo
from pmargin.cli._feed_command import feed
from pmargin.cli._hedge_command import hedge
from pmargin.cli._help import ChoicesGroup
from pmargin.cli._import_command import register_import
from pmargin.cli._margin_command import margin
from pmargin.cli._market_command import register_market
from pmargin.cli._output import clean, short_value
from pmargin.cli._price_command import price
from pmargin.cli._risk_matrix_command import risk_matrix
from pmargin.cli._serve_command import keys_app, keys_create, serve
from pmargin.cli._simulate_command import simulate
from pmargin.cli._stress_command import stress
from pmargin.cli._verify_command import params_app, params_import, verify
from pmargin.errors import InputError, PmarginError

__all__ = ["app"]

install_plain_coercion()  # plain values without pydantic: ~80 ms off every start

app = typer.Typer(
    name="pmargin",
    help="Portfolio margin engine for crypto derivatives.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    cls=ChoicesGroup,
    context_settings={"max_content_width": 100},
)

EXIT_BAD_INPUT = 2
_F = TypeVar("_F", bound=Callable[..., Any])


def _one_line_errors(command: _F) -> _F:
    """Turn pmargin errors into a one-line message on stderr and exit code 2."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except PmarginError as exc:
            if isinstance(exc, InputError):
                text = f"{exc.field}: {short_value(exc.value)} {exc.reason}"
            else:
                text = str(exc)
            message = clean(" ".join(text.split()))
            print(f"pmargin: error: {message}", file=sys.stderr)
            raise typer.Exit(EXIT_BAD_INPUT) from None

    return wrapper  # type: ignore[return-value]


def _print_version(value: bool) -> None:
    if value:
        print(f"pmargin {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the version and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """Portfolio margin engine for crypto derivatives."""


app.command("price")(_one_line_errors(price))
app.command("margin")(_one_line_errors(margin))
app.command("compare")(_one_line_errors(compare))
app.command("risk-matrix")(_one_line_errors(risk_matrix))
app.command("check-order")(_one_line_errors(check_order))
app.command("demo")(_one_line_errors(demo))
app.command("stress")(_one_line_errors(stress))
app.command("backtest")(_one_line_errors(backtest))
app.command("simulate")(_one_line_errors(simulate))
app.command("verify")(_one_line_errors(verify))
params_app.command("import")(_one_line_errors(params_import))
app.add_typer(params_app, name="params")
app.command("serve")(_one_line_errors(serve))
keys_app.command("create")(_one_line_errors(keys_create))
app.add_typer(keys_app, name="keys")
app.command("hedge")(_one_line_errors(hedge))
app.command("consolidate")(_one_line_errors(consolidate))
register_market(app, _one_line_errors)
register_data(app, _one_line_errors)
app.command("feed")(_one_line_errors(feed))
register_import(app, _one_line_errors)  # last: adds --from to the commands above

if __name__ == "__main__":  # pragma: no cover
    app()
