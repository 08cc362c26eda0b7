"""The `letters addresses` commands: `resolve` sources, `explain` one person, `dedupe` any CSV."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from addresses import batch as engine
from letters.cli import output
from letters.cli.options import (
    AddressConfigOption,
    AddressSourcesArgument,
    JobsOption,
    RecencyAsOfOption,
    as_of_date,
    engine_config,
    existing_files,
)
from letters.errors import ExitCode, UsageError


def resolve(
    sources: AddressSourcesArgument,
    out_path: Annotated[Path, typer.Option("--out", help="Where to write resolved.csv.")],
    as_of: RecencyAsOfOption = None,
    address_config: AddressConfigOption = None,
    jobs: JobsOption = None,
) -> None:
    """Choose one address per customer_id: selected, review or none, with confidence and reasons.

    Example: letters addresses resolve internal.csv third_party.csv --out resolved.csv
    """
    summary = engine.resolve_files(
        existing_files(sources), out_path, engine_config(address_config), as_of_date(as_of), jobs
    )
    for unknown in summary.unknown_sources:  # not a silent 0.4: say which file and source
        output.err.print(f"warning: {unknown.message()}", markup=False, soft_wrap=True)
    output.print_resolve(summary, out_path)
    raise typer.Exit(int(ExitCode.REJECTED_ROWS if summary.rejects else ExitCode.DONE))


def explain(
    customer_id: Annotated[str, typer.Argument(help="The person to explain.")],
    sources: AddressSourcesArgument,
    as_of: RecencyAsOfOption = None,
    address_config: AddressConfigOption = None,
) -> None:
    """Show every observation, its standard form, the merge groups and each score factor.

    Example: letters addresses explain C0000042 internal.csv third_party.csv
    """
    found = engine.explain(
        customer_id, existing_files(sources), engine_config(address_config), as_of_date(as_of)
    )
    if not found.observations and not found.rejects:
        raise UsageError(f"{customer_id}: no observation in the given sources")
    output.print_explanation(found)


def dedupe(
    input_path: Annotated[Path, typer.Argument(help="Any CSV with an address column.")],
    out_path: Annotated[Path, typer.Option("--out", help="Where to write the clusters.")],
    id_column: Annotated[str, typer.Option("--id-column", help="Column with the row id.")] = "id",
    address_column: Annotated[
        str, typer.Option("--address-column", help="Column with the street address.")
    ] = "address",
    zip_column: Annotated[str | None, typer.Option("--zip-column", help="ZIP column.")] = None,
    city_column: Annotated[str | None, typer.Option("--city-column", help="City column.")] = None,
    state_column: Annotated[
        str | None, typer.Option("--state-column", help="State column.")
    ] = None,
    default_city: Annotated[
        str, typer.Option("--default-city", help="City where the row has none.")
    ] = "",
    default_state: Annotated[
        str, typer.Option("--default-state", help="State where the row has none.")
    ] = "",
) -> None:
    """Cluster the rows of any CSV by address alone; write id, cluster_id and the standard form.

    Example: letters addresses dedupe sites.csv --out clusters.csv --id-column Id
    --address-column Address --zip-column Zip --default-city Chicago --default-state IL
    """
    columns = engine.DedupeColumns(
        id_column, address_column, zip_column, city_column, state_column, default_city,
        default_state,
    )  # fmt: skip
    summary = engine.dedupe_file(existing_files([input_path])[0], out_path, columns)
    output.print_dedupe(summary, out_path)
    raise typer.Exit(int(ExitCode.REJECTED_ROWS if summary.problems else ExitCode.DONE))
