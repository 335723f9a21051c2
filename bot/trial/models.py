"""Tables of the trial database, shaped after the ClinicalTrials.gov API v2 study record.

Registry values (statuses, phases, study types) are stored as the registry spells them, so a
record fetched from the API loads without translation.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import relationship

from bot.db import Base, utcnow

related_study = Table(
    "related_study",
    Base.metadata,
    Column("study_id", ForeignKey("study.id", ondelete="CASCADE"), primary_key=True),
    Column("related_id", ForeignKey("study.id", ondelete="CASCADE"), primary_key=True),
)


class Study(Base):
    __tablename__ = "study"

    id = Column(Integer, primary_key=True)
    # identificationModule
    nct_id = Column(String(16), unique=True, nullable=False, index=True)
    org_study_id = Column(String(200))
    brief_title = Column(Text, nullable=False)
    official_title = Column(Text)
    # statusModule; dates are ISO strings, possibly partial ("2021-12"), as the registry gives them
    overall_status = Column(String(40), nullable=False, index=True)
    status_verified_date = Column(String(10))
    start_date = Column(String(10))
    start_date_type = Column(String(10))  # ACTUAL / ESTIMATED, when the registry says
    primary_completion_date = Column(String(10))
    primary_completion_date_type = Column(String(10))
    completion_date = Column(String(10))
    completion_date_type = Column(String(10))
    # sponsorCollaboratorsModule
    lead_sponsor = Column(Text)
    # descriptionModule
    brief_summary = Column(Text)
    detailed_description = Column(Text)
    # conditionsModule
    conditions = Column(JSON, nullable=False, default=list)
    keywords = Column(JSON, nullable=False, default=list)
    # designModule
    study_type = Column(String(30))
    phases = Column(JSON, nullable=False, default=list)
    allocation = Column(String(30))
    intervention_model = Column(String(30))
    masking = Column(String(30))
    # eligibilityModule: the free text is kept for staff; ages and sex become criteria
    enrollment_count = Column(Integer)  # designModule.enrollmentInfo
    enrollment_type = Column(String(10))  # ACTUAL / ESTIMATED
    eligibility_criteria = Column(Text)
    sex = Column(String(10))
    minimum_age = Column(String(20))
    maximum_age = Column(String(20))
    healthy_volunteers = Column(String(5))
    has_results = Column(Boolean)  # the registry's hasResults
    updated_at = Column(DateTime(timezone=True), nullable=False, default=utcnow, onupdate=utcnow)

    interventions = relationship(
        "Intervention", cascade="all, delete-orphan", order_by="Intervention.position"
    )
    arm_groups = relationship(
        "ArmGroup", cascade="all, delete-orphan", order_by="ArmGroup.position"
    )
    contacts = relationship("Contact", cascade="all, delete-orphan", order_by="Contact.position")
    locations = relationship("Location", cascade="all, delete-orphan", order_by="Location.position")
    criteria = relationship(
        "Criterion", cascade="all, delete-orphan", order_by="Criterion.position"
    )
    translations = relationship("StudyTranslation", cascade="all, delete-orphan")
    related = relationship(
        "Study",
        secondary=related_study,
        primaryjoin=id == related_study.c.study_id,
        secondaryjoin=id == related_study.c.related_id,
        order_by="Study.nct_id",
    )


class Intervention(Base):
    __tablename__ = "intervention"

    id = Column(Integer, primary_key=True)
    study_id = Column(ForeignKey("study.id", ondelete="CASCADE"), nullable=False, index=True)
    position = Column(Integer, nullable=False, default=0)
    type = Column(String(30))
    name = Column(Text, nullable=False)
    description = Column(Text)
    other_names = Column(JSON, nullable=False, default=list)


class ArmGroup(Base):
    __tablename__ = "arm_group"

    id = Column(Integer, primary_key=True)
    study_id = Column(ForeignKey("study.id", ondelete="CASCADE"), nullable=False, index=True)
    position = Column(Integer, nullable=False, default=0)
    label = Column(Text, nullable=False)
    type = Column(String(30))
    description = Column(Text)
    intervention_names = Column(JSON, nullable=False, default=list)


class Contact(Base):
    """A central contact; phone and e-mail are nullable because registries often omit them."""

    __tablename__ = "contact"

    id = Column(Integer, primary_key=True)
    study_id = Column(ForeignKey("study.id", ondelete="CASCADE"), nullable=False, index=True)
    position = Column(Integer, nullable=False, default=0)
    name = Column(Text)
    role = Column(String(30))
    phone = Column(String(100))  # as the registry writes it, with " ext. N" when it gives one
    email = Column(String(200))


class Location(Base):
    __tablename__ = "location"

    id = Column(Integer, primary_key=True)
    study_id = Column(ForeignKey("study.id", ondelete="CASCADE"), nullable=False, index=True)
    position = Column(Integer, nullable=False, default=0)
    facility = Column(Text)
    status = Column(String(40))
    city = Column(String(120))
    state = Column(String(120))
    country = Column(String(120))


class Criterion(Base):
    """One pre-screening question. Editing rows changes the screening without retraining."""

    __tablename__ = "criterion"
    __table_args__ = (UniqueConstraint("study_id", "key"),)

    id = Column(Integer, primary_key=True)
    study_id = Column(ForeignKey("study.id", ondelete="CASCADE"), nullable=False, index=True)
    key = Column(String(60), nullable=False)
    position = Column(Integer, nullable=False, default=0)
    kind = Column(String(10), nullable=False)  # inclusion / exclusion
    question = Column(Text, nullable=False)  # plain patient language
    rephrase = Column(Text)  # asked when the first answer was unclear
    answer_type = Column(String(10), nullable=False)  # yes_no / number / choice
    choices = Column(JSON, nullable=False, default=list)  # for answer_type choice
    pass_values = Column(JSON, nullable=False, default=list)  # yes_no / choice answers that pass
    min_value = Column(Float)  # number answers that pass: min <= value <= max
    max_value = Column(Float)
    fail_reason = Column(Text, nullable=False)  # kind plain words, said when it rules someone out
    source = Column(String(40), nullable=False)  # registry_summary / eligibility_module / staff
    # {"zh": {"question": ..., "rephrase": ..., "fail_reason": ..., "choices": [...]}}
    translations = Column(JSON, nullable=False, default=dict)


class StudyTranslation(Base):
    """A study's display text in another language, stored beside the registry's English.

    `field` names what it translates: brief_title, official_title, brief_summary, aim,
    lead_sponsor, conditions, intervention.N.name, intervention.N.description, arm.N.label
    (N: the registry's position). `source` says where the text comes from (e.g. a translation
    of the registry page); nothing here is a fact the registry does not have."""

    __tablename__ = "study_translation"
    __table_args__ = (UniqueConstraint("study_id", "field", "language"),)

    id = Column(Integer, primary_key=True)
    study_id = Column(ForeignKey("study.id", ondelete="CASCADE"), nullable=False, index=True)
    field = Column(String(60), nullable=False)
    language = Column(String(8), nullable=False)
    text = Column(Text, nullable=False)
    source = Column(String(300), nullable=False)


class StudyRefresh(Base):
    """One `trials refresh` of a study from the registry, for staff: when, whether it worked,
    and what changed (bot.trial.changes) or why it failed. Kept by NCT id, so a refresh of a
    study that is not (or no longer) in the database is kept too."""

    __tablename__ = "study_refresh"

    id = Column(Integer, primary_key=True)
    nct_id = Column(String(16), nullable=False, index=True)
    at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    ok = Column(Boolean, nullable=False)
    changed = Column(Boolean, nullable=False, default=False)  # the study was added or changed
    changes = Column(JSON, nullable=False, default=list)
    error = Column(Text)
    source = Column(String(300))  # the URL it was fetched from
