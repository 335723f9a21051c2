"""Tables of the trial database, shaped after the ClinicalTrials.gov API v2 study record.

Registry values (statuses, phases, study types) are stored as the registry spells them, so a
record fetched from the API loads without translation.
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
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
from sqlalchemy.orm import declarative_base, relationship

Base = declarative_base()


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


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
    eligibility_criteria = Column(Text)
    sex = Column(String(10))
    minimum_age = Column(String(20))
    maximum_age = Column(String(20))
    healthy_volunteers = Column(String(5))
    updated_at = Column(DateTime(timezone=True), nullable=False, default=utcnow, onupdate=utcnow)

    interventions = relationship(
        "Intervention", cascade="all, delete-orphan", order_by="Intervention.position"
    )
    arm_groups = relationship("ArmGroup", cascade="all, delete-orphan", order_by="ArmGroup.position")
    contacts = relationship("Contact", cascade="all, delete-orphan", order_by="Contact.position")
    locations = relationship("Location", cascade="all, delete-orphan", order_by="Location.position")
    criteria = relationship("Criterion", cascade="all, delete-orphan", order_by="Criterion.position")
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
    phone = Column(String(60))
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


class Screening(Base):
    """One pre-screening attempt; stored only after the person consented."""

    __tablename__ = "screening"

    id = Column(Integer, primary_key=True)
    study_id = Column(ForeignKey("study.id", ondelete="CASCADE"), nullable=False, index=True)
    conversation_id = Column(String(255), nullable=False, index=True)
    channel = Column(String(60))
    consent_at = Column(DateTime(timezone=True), nullable=False)
    finished_at = Column(DateTime(timezone=True))
    # in_progress / may_be_eligible / not_eligible / unsure / stopped
    outcome = Column(String(20), nullable=False, default="in_progress", index=True)

    answers = relationship(
        "ScreeningAnswer", cascade="all, delete-orphan", order_by="ScreeningAnswer.id"
    )
    callback = relationship("CallbackRequest", uselist=False, back_populates="screening")
    study = relationship("Study")


class ScreeningAnswer(Base):
    __tablename__ = "screening_answer"
    __table_args__ = (UniqueConstraint("screening_id", "criterion_id"),)

    id = Column(Integer, primary_key=True)
    screening_id = Column(ForeignKey("screening.id", ondelete="CASCADE"), nullable=False)
    criterion_id = Column(ForeignKey("criterion.id", ondelete="CASCADE"), nullable=False)
    answer_text = Column(Text)  # what the person wrote, last attempt
    value = Column(String(40))  # yes / no / unsure / a number / a choice
    result = Column(String(10), nullable=False)  # pass / fail / unsure
    answered_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)

    criterion = relationship("Criterion")


class CallbackRequest(Base):
    __tablename__ = "callback_request"

    id = Column(Integer, primary_key=True)
    screening_id = Column(ForeignKey("screening.id", ondelete="SET NULL"), unique=True)
    study_id = Column(ForeignKey("study.id", ondelete="CASCADE"), nullable=False)
    conversation_id = Column(String(255), nullable=False)
    name = Column(String(200), nullable=False)
    phone = Column(String(40), nullable=False)
    status = Column(String(20), nullable=False, default="new", index=True)  # new/contacted/closed
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    updated_at = Column(DateTime(timezone=True), nullable=False, default=utcnow, onupdate=utcnow)
    updated_by = Column(String(120))

    screening = relationship("Screening", back_populates="callback")
