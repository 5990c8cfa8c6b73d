"""DORA's vocabulary of entities: the financial entity types of Art. 2(1) and the member states."""

from __future__ import annotations

from typing import Literal, get_args

__all__ = ["ENTITY_TYPES", "MEMBER_STATES", "EntityType"]

#: DORA Art. 2(1) financial entity types, plus entities identified as essential or important
#: under NIS2 (they may not use the weekend rule for initial and intermediate reports).
EntityType = Literal[
    "credit_institution",
    "payment_institution",
    "account_information_service_provider",
    "electronic_money_institution",
    "investment_firm",
    "crypto_asset_service_provider",
    "central_securities_depository",
    "central_counterparty",
    "trading_venue_operator",
    "trade_repository",
    "alternative_investment_fund_manager",
    "ucits_management_company",
    "data_reporting_service_provider",
    "insurance_undertaking",
    "reinsurance_undertaking",
    "insurance_intermediary",
    "institution_for_occupational_retirement_provision",
    "credit_rating_agency",
    "critical_benchmark_administrator",
    "crowdfunding_service_provider",
    "securitisation_repository",
    "nis2_essential_or_important_entity",
]
ENTITY_TYPES: tuple[str, ...] = get_args(EntityType)
#: EU member states and the EEA states (ISO 3166-1 alpha-2).
MEMBER_STATES = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "ES",
        "FI",
        "FR",
        "GR",
        "HR",
        "HU",
        "IE",
        "IT",
        "LT",
        "LU",
        "LV",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
        "IS",
        "LI",
        "NO",
    ]
)
