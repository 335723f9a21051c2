"""The ClinicalTrials.gov API v2 study record, as far as this assistant uses it.

pydantic validates a file before anything is written, and its errors name the field that is
wrong. Fields the registry has and we do not use are ignored (resultsSection, documentSection,
most of derivedSection), so real API output loads as is. Every field is optional except the NCT
id: a field-filtered response (`?fields=...`) holds only what was asked for, and the importer
leaves what it does not hold as it is. Text lengths are checked against the columns they go to.
"""

from __future__ import annotations

import re
from enum import Enum
from typing import List, Optional

from pydantic import BaseModel, Field, validator


class OverallStatus(str, Enum):
    ACTIVE_NOT_RECRUITING = "ACTIVE_NOT_RECRUITING"
    COMPLETED = "COMPLETED"
    ENROLLING_BY_INVITATION = "ENROLLING_BY_INVITATION"
    NOT_YET_RECRUITING = "NOT_YET_RECRUITING"
    RECRUITING = "RECRUITING"
    SUSPENDED = "SUSPENDED"
    TERMINATED = "TERMINATED"
    WITHDRAWN = "WITHDRAWN"
    AVAILABLE = "AVAILABLE"
    NO_LONGER_AVAILABLE = "NO_LONGER_AVAILABLE"
    TEMPORARILY_NOT_AVAILABLE = "TEMPORARILY_NOT_AVAILABLE"
    APPROVED_FOR_MARKETING = "APPROVED_FOR_MARKETING"
    WITHHELD = "WITHHELD"
    UNKNOWN = "UNKNOWN"


class Phase(str, Enum):
    NA = "NA"
    EARLY_PHASE1 = "EARLY_PHASE1"
    PHASE1 = "PHASE1"
    PHASE2 = "PHASE2"
    PHASE3 = "PHASE3"
    PHASE4 = "PHASE4"


class StudyType(str, Enum):
    INTERVENTIONAL = "INTERVENTIONAL"
    OBSERVATIONAL = "OBSERVATIONAL"
    EXPANDED_ACCESS = "EXPANDED_ACCESS"


class DateType(str, Enum):
    ACTUAL = "ACTUAL"
    ESTIMATED = "ESTIMATED"


class Sex(str, Enum):
    ALL = "ALL"
    FEMALE = "FEMALE"
    MALE = "MALE"


PARTIAL_DATE = re.compile(r"^\d{4}-\d{2}(-\d{2})?$")
AGE = re.compile(r"^\d+ (Year|Month|Week|Day|Hour|Minute)s?$")


class _Model(BaseModel):
    class Config:
        extra = "ignore"


class DateStruct(_Model):
    date: str
    type: Optional[DateType] = None

    @validator("date")
    def _iso_date(cls, value: str) -> str:
        if not PARTIAL_DATE.match(value):
            raise ValueError("must be YYYY-MM or YYYY-MM-DD")
        return value


class Identification(_Model):
    nctId: str
    orgStudyInfo: Optional[dict] = None
    briefTitle: Optional[str] = Field(None, min_length=1)
    officialTitle: Optional[str] = None

    @validator("orgStudyInfo")
    def _org_id(cls, value: Optional[dict]) -> Optional[dict]:
        if value and len(str(value.get("id") or "")) > 200:
            raise ValueError("id: at most 200 characters")
        return value

    @validator("nctId")
    def _nct(cls, value: str) -> str:
        if not re.match(r"^NCT\d{8}$", value):
            raise ValueError("must look like NCT12345678")
        return value


class Status(_Model):
    overallStatus: Optional[OverallStatus] = None
    statusVerifiedDate: Optional[str] = None
    startDateStruct: Optional[DateStruct] = None
    primaryCompletionDateStruct: Optional[DateStruct] = None
    completionDateStruct: Optional[DateStruct] = None

    @validator("statusVerifiedDate")
    def _verified(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not PARTIAL_DATE.match(value):
            raise ValueError("must be YYYY-MM or YYYY-MM-DD")
        return value


class Sponsor(_Model):
    name: str


class SponsorCollaborators(_Model):
    leadSponsor: Optional[Sponsor] = None


class Description(_Model):
    briefSummary: Optional[str] = None
    detailedDescription: Optional[str] = None


class Conditions(_Model):
    conditions: List[str] = []
    keywords: List[str] = []


class DesignInfo(_Model):
    allocation: Optional[str] = Field(None, max_length=30)
    interventionModel: Optional[str] = Field(None, max_length=30)
    maskingInfo: Optional[dict] = None

    @validator("maskingInfo")
    def _masking(cls, value: Optional[dict]) -> Optional[dict]:
        if value and len(str(value.get("masking") or "")) > 30:
            raise ValueError("masking: at most 30 characters")
        return value


class EnrollmentInfo(_Model):
    count: Optional[int] = Field(None, ge=0)
    type: Optional[DateType] = None  # ACTUAL / ESTIMATED


class Design(_Model):
    studyType: Optional[StudyType] = None
    phases: List[Phase] = []
    designInfo: Optional[DesignInfo] = None
    enrollmentInfo: Optional[EnrollmentInfo] = None


class ArmGroup(_Model):
    label: str
    type: Optional[str] = Field(None, max_length=30)
    description: Optional[str] = None
    interventionNames: List[str] = []


class Intervention(_Model):
    type: Optional[str] = Field(None, max_length=30)
    name: str
    description: Optional[str] = None
    otherNames: List[str] = []


class ArmsInterventions(_Model):
    armGroups: List[ArmGroup] = []
    interventions: List[Intervention] = []


class Eligibility(_Model):
    eligibilityCriteria: Optional[str] = None
    healthyVolunteers: Optional[bool] = None
    sex: Optional[Sex] = None
    minimumAge: Optional[str] = None
    maximumAge: Optional[str] = None

    @validator("minimumAge", "maximumAge")
    def _age(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not AGE.match(value):
            raise ValueError("must be like '18 Years'")
        return value


class CentralContact(_Model):
    name: Optional[str] = None
    role: Optional[str] = Field(None, max_length=30)
    phone: Optional[str] = Field(None, max_length=60)
    phoneExt: Optional[str] = Field(None, max_length=20)
    email: Optional[str] = Field(None, max_length=200)


class Location(_Model):
    facility: Optional[str] = None
    status: Optional[str] = Field(None, max_length=40)  # the site's own recruitment status
    city: Optional[str] = Field(None, max_length=120)
    state: Optional[str] = Field(None, max_length=120)
    country: Optional[str] = Field(None, max_length=120)


class ContactsLocations(_Model):
    centralContacts: List[CentralContact] = []
    locations: List[Location] = []


class ProtocolSection(_Model):
    identificationModule: Identification
    statusModule: Optional[Status] = None
    sponsorCollaboratorsModule: Optional[SponsorCollaborators] = None
    descriptionModule: Optional[Description] = None
    conditionsModule: Optional[Conditions] = None
    designModule: Optional[Design] = None
    armsInterventionsModule: Optional[ArmsInterventions] = None
    eligibilityModule: Optional[Eligibility] = None
    contactsLocationsModule: Optional[ContactsLocations] = None


class StudyRecord(_Model):
    protocolSection: ProtocolSection
    hasResults: Optional[bool] = None
    derivedSection: Optional[dict] = None

    @property
    def complete(self) -> bool:
        """A whole record, as `GET /studies/{nctId}` or a search without `fields` returns it (it
        always carries hasResults and derivedSection): what it lacks, the study no longer has.
        Otherwise it is field-filtered, and what it lacks is left as it is."""
        return {"hasResults", "derivedSection"} <= self.__fields_set__
