//! The dispatcher: sends the outbox's due letters and records each outcome.
//!
//! A letter is marked sent only after the server (or the file system) has taken it, so a
//! crash at any point leaves it pending and it is sent again on restart: with the same
//! `Message-ID`, which is derived from the notice and the times it was resent on request.
//! The one window where a letter can go out twice is between the server's "250 OK" and
//! the database recording it; the copy then carries the same `Message-ID`, by which
//! mail systems recognise a duplicate. Transient failures (no connection, 4xx) are tried
//! again with exponential backoff; permanent ones (5xx, an address that cannot be
//! used, a recipient who has left or was erased) are marked failed with the reason, for
//! the course office to see in the outbox view and resend when fixed. The letters of an
//! erased person that were written as files are deleted (docs/decisions/0007).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::FutureExt;
use kurslogg_projections::outbox::{self, Filter, OutboxRow};
use lettre::message::MultiPart;
use lettre::Message;

use super::render::render;
use super::transport::{file_stem, mailbox, SendError, Transport};
use crate::app::{AppError, Kurslogg};
use crate::config::MailSettings;
use crate::store::StoreError;

/// Letters read from the outbox per query.
const BATCH: i64 = 50;

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DispatchReport {
    /// Delivered.
    pub sent: usize,
    /// Failed for now; tried again later.
    pub deferred: usize,
    /// Failed for good.
    pub failed: usize,
}

/// Sends letters.
pub struct Dispatcher {
    app: Arc<Kurslogg>,
    transport: Transport,
    settings: MailSettings,
}

enum Outcome {
    Sent(String),
    Deferred(String),
    Failed(String),
}

impl Dispatcher {
    /// A dispatcher sending through `transport`.
    pub fn new(app: Arc<Kurslogg>, transport: Transport, settings: MailSettings) -> Self {
        Self { app, transport, settings }
    }

    /// Sends due letters every `every` until the process ends; with several instances on
    /// PostgreSQL, one at a time.
    pub async fn run(self, every: Duration) {
        let db = self.app.log.views();
        // A round sends at most one batch: the lock is confirmed between rounds, so an
        // instance that lost it (its database session ended) stops within a batch.
        kurslogg_projections::leader::lead(db, "mailer", every, || async {
            if let Err(e) = self.send_due(BATCH as usize).await {
                tracing::error!(error = %e, "sending letters failed; trying again");
            }
        })
        .await;
    }

    /// Sends the letters that are due now, each once. A letter that fails for now ends
    /// the round: the server is down or unwell, and the rest wait for the next round
    /// rather than each waiting for its own timeout.
    pub async fn dispatch_due(&self) -> Result<DispatchReport, AppError> {
        self.send_due(usize::MAX).await
    }

    /// As [`Dispatcher::dispatch_due`], trying at most `at_most` letters.
    async fn send_due(&self, at_most: usize) -> Result<DispatchReport, AppError> {
        // First, before any letter of this round is written: a letter to someone erased
        // meanwhile that an earlier round was writing is on disk by now, and goes too.
        self.delete_letters_of_the_erased().await?;
        let db = self.app.log.views();
        // Due as of the round's start: a retry scheduled during the round waits for a later one.
        let now = Utc::now();
        let mut report = DispatchReport::default();
        loop {
            let due = outbox::due(&db, now, BATCH).await.map_err(StoreError::from)?;
            if due.is_empty() {
                return Ok(report);
            }
            for notice in &due {
                let mut stop = false;
                // A panic while one letter is written or sent (a bug; the panic hook logs
                // it) fails that letter, with its reason in the outbox, and the round goes
                // on: it never takes the dispatcher, and the letters behind it, down.
                let outcome = AssertUnwindSafe(self.dispatch(notice)).catch_unwind().await.unwrap_or_else(|_| {
                    Outcome::Failed("the letter could not be written: an unexpected error (see the log)".into())
                });
                let recorded = match outcome {
                    Outcome::Sent(message_id) => {
                        report.sent += 1;
                        outbox::mark_sent(&db, notice, &message_id, Utc::now()).await
                    }
                    Outcome::Deferred(error) if notice.attempts + 1 < i64::from(self.settings.max_attempts) => {
                        report.deferred += 1;
                        stop = true;
                        tracing::warn!(notice = %notice.notice_id, %error, "letter not sent; will try again");
                        outbox::mark_retry(&db, notice, &error, Utc::now() + self.backoff(notice.attempts)).await
                    }
                    Outcome::Deferred(error) => {
                        report.failed += 1;
                        let error = format!("gave up after {} attempts: {error}", notice.attempts + 1);
                        outbox::mark_failed(&db, notice, &error).await
                    }
                    Outcome::Failed(error) => {
                        report.failed += 1;
                        tracing::warn!(notice = %notice.notice_id, %error, "letter cannot be sent");
                        outbox::mark_failed(&db, notice, &error).await
                    }
                };
                recorded.map_err(StoreError::from)?;
                if stop || report.sent + report.deferred + report.failed >= at_most {
                    return Ok(report);
                }
            }
        }
    }

    /// Deletes the delivered letters (`.eml` files) of people erased since the last
    /// round, and writes the kept letters to others that name them again as they are
    /// written now: naming them "(raderad person)" (docs/decisions/0007). A file that
    /// cannot be deleted or written is tried again next round; sending goes on meanwhile.
    async fn delete_letters_of_the_erased(&self) -> Result<(), AppError> {
        let db = self.app.log.views();
        for staff in self.app.log.letter_files_to_delete(BATCH).await? {
            let mut deleted = self.forget_in_kept_letters(&staff).await?;
            let mut filter = Filter { recipient: Some(staff.clone()), ..Filter::default() };
            loop {
                let letters = outbox::list(&db, &filter, BATCH).await.map_err(StoreError::from)?;
                for letter in &letters {
                    for generation in 0..=letter.generation {
                        if let Err(e) = self.transport.delete(&file_stem(&letter.notice_id, generation)).await {
                            tracing::error!(notice = %letter.notice_id, error = %e, "an erased person's letter could not be deleted");
                            deleted = false;
                        }
                    }
                }
                match letters.last() {
                    Some(last) if letters.len() as i64 == BATCH => {
                        filter.after = Some((last.created_at.clone(), last.notice_id.clone()));
                    }
                    _ => break,
                }
            }
            if deleted {
                self.app.log.letter_files_deleted(&staff).await?;
            }
        }
        Ok(())
    }

    /// Writes again the kept letters to others that may name the erased `staff`: every
    /// generation's file, with its Message-ID and date, as the letter is written now. A
    /// letter that cannot be written any more (what it is about is gone) is deleted
    /// rather than kept with the name. True when every file was dealt with.
    async fn forget_in_kept_letters(&self, staff: &str) -> Result<bool, AppError> {
        if !matches!(self.transport, Transport::Files(_)) {
            return Ok(true);
        }
        let db = self.app.log.views();
        let municipality = self.app.municipality_of(staff).await?.unwrap_or_default();
        let mut done = true;
        let mut after = String::new();
        loop {
            let letters = outbox::naming(&db, staff, &municipality, &after, BATCH).await.map_err(StoreError::from)?;
            for letter in &letters {
                for generation in 0..=letter.generation {
                    let stem = file_stem(&letter.notice_id, generation);
                    let written = match self.message(letter, generation, true).await {
                        Ok((message, _)) => self.transport.rewrite(&message, &stem).await,
                        Err(Outcome::Deferred(error)) => {
                            tracing::warn!(notice = %letter.notice_id, %error, "a kept letter could not be written again yet");
                            done = false;
                            continue;
                        }
                        Err(_) => self.transport.delete(&stem).await.map(|()| true),
                    };
                    if let Err(e) = written {
                        tracing::error!(notice = %letter.notice_id, error = %e, "a kept letter naming an erased person could not be written again");
                        done = false;
                    }
                }
            }
            match letters.last() {
                Some(last) if letters.len() as i64 == BATCH => after = last.notice_id.clone(),
                _ => return Ok(done),
            }
        }
    }

    /// The wait after the `attempts`-th failure: the base, doubled per failure, at most a day.
    fn backoff(&self, attempts: i64) -> chrono::Duration {
        let factor = 2_u32.saturating_pow(u32::try_from(attempts).unwrap_or(u32::MAX).min(20));
        let wait = self.settings.retry_base.saturating_mul(factor).min(Duration::from_secs(24 * 3600));
        chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::days(1))
    }

    async fn dispatch(&self, notice: &OutboxRow) -> Outcome {
        let (message, message_id) = match self.message(notice, notice.generation, false).await {
            Ok(built) => built,
            Err(outcome) => return outcome,
        };
        match self.transport.send(&message, &file_stem(&notice.notice_id, notice.generation)).await {
            Ok(()) => Outcome::Sent(message_id),
            Err(SendError::Transient(e)) => Outcome::Deferred(e),
            Err(SendError::Permanent(e)) => Outcome::Failed(e),
        }
    }

    /// The message of `notice`'s `generation` and its Message-ID; `kept`: the copy of a
    /// letter already sent, written again (dated when it was sent).
    async fn message(&self, notice: &OutboxRow, generation: i64, kept: bool) -> Result<(Message, String), Outcome> {
        let addressed = if kept { self.app.kept_letter_for(notice).await } else { self.app.letter_for(notice).await };
        let addressed = match addressed {
            Ok(Ok(addressed)) => addressed,
            Ok(Err(reason)) => return Err(Outcome::Failed(reason)),
            // Storage trouble passes; anything else wrong is this letter's, for good.
            Err(e @ AppError::Store(_)) => return Err(Outcome::Deferred(format!("could not gather the letter: {e}"))),
            Err(e) => return Err(Outcome::Failed(format!("could not gather the letter: {e}"))),
        };
        let rendered = render(&addressed.letter).map_err(|e| Outcome::Failed(e.to_string()))?;
        let domain = self.settings.from_address.split_once('@').map_or("kurslogg.invalid", |(_, d)| d);
        let message_id = format!("<{}.{}@{domain}>", notice.notice_id, generation);
        let from = mailbox(&self.settings.from_name, &self.settings.from_address).map_err(Outcome::Failed)?;
        let to = mailbox(&addressed.name, &addressed.email).map_err(Outcome::Failed)?;
        let mut builder = Message::builder().message_id(Some(message_id.clone())).from(from).to(to);
        if let Some(sent_at) = notice.sent_at.as_deref().filter(|_| kept) {
            if let Ok(sent_at) = chrono::DateTime::parse_from_rfc3339(sent_at) {
                builder = builder.date(sent_at.to_utc().into());
            }
        }
        let message = builder
            .subject(rendered.subject)
            .multipart(MultiPart::alternative_plain_html(rendered.text, rendered.html))
            .map_err(|e| Outcome::Failed(format!("the letter could not be built: {e}")))?;
        Ok((message, message_id))
    }
}
