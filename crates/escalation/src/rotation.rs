//! Who is on call in a rotation at an instant: turns counted in local hand-offs, so a
//! daily 09:00 hand-off stays at 09:00 local time across DST changes, then overrides.

use jiff::Timestamp;
use jiff::civil::{Date, Weekday};

use crate::config::{Handoff, Rotation};

impl Rotation {
    /// The person id on call at `at`: an override covering `at` if any (the last listed
    /// wins), else the participant whose turn it is. `None` for an empty rotation.
    ///
    /// Before `start` the turns are extended backwards, so an incident declared just
    /// before a rotation begins still pages someone.
    pub fn on_call(&self, at: Timestamp) -> Option<&str> {
        if let Some(o) = self
            .overrides
            .iter()
            .rev()
            .find(|o| o.start <= at && at < o.end)
        {
            return Some(&o.person);
        }
        self.scheduled(at)
    }

    /// The participant whose turn it is at `at`, ignoring overrides.
    pub fn scheduled(&self, at: Timestamp) -> Option<&str> {
        let n = i64::try_from(self.participants.len()).ok()?;
        if n == 0 {
            return None;
        }
        let turn = if at >= self.start {
            self.handoffs_in(self.start, at)
        } else {
            -self.handoffs_in(at, self.start)
        };
        let i = usize::try_from(turn.rem_euclid(n)).ok()?;
        self.participants.get(i).map(String::as_str)
    }

    /// The next hand-off instant strictly after `at` (where the on-call person may change).
    pub fn next_handoff(&self, at: Timestamp) -> Option<Timestamp> {
        let tz = &self.time_zone.tz;
        let mut d = at.to_zoned(tz.clone()).date();
        // A weekly hand-off is at most 8 local dates ahead (today's may be past); 16 is slack.
        for _ in 0..16 {
            if self.is_handoff_date(d)
                && let Some(h) = self.handoff_at(d)
                && h > at
            {
                return Some(h);
            }
            d = d.tomorrow().ok()?;
        }
        None
    }

    /// Hand-off days of the week; daily rotations hand off every day.
    fn weekday(&self) -> Option<Weekday> {
        match self.handoff {
            Handoff::Daily => None,
            Handoff::Weekly => Some(
                self.handoff_weekday
                    .unwrap_or_else(|| self.start.to_zoned(self.time_zone.tz.clone()).weekday()),
            ),
        }
    }

    fn is_handoff_date(&self, d: Date) -> bool {
        self.weekday().is_none_or(|w| d.weekday() == w)
    }

    /// The hand-off instant on local date `d`. A time skipped by a DST gap resolves to the
    /// instant just after the gap, a repeated time to its first occurrence (RFC 5545 and
    /// Temporal's "compatible" rule).
    fn handoff_at(&self, d: Date) -> Option<Timestamp> {
        d.to_datetime(self.handoff_time)
            .to_zoned(self.time_zone.tz.clone())
            .ok()
            .map(|z| z.timestamp())
    }

    /// How many hand-offs `h` satisfy `from < h <= to`, in O(1): count hand-off dates
    /// between the two local dates, then correct the first and last date.
    fn handoffs_in(&self, from: Timestamp, to: Timestamp) -> i64 {
        let tz = &self.time_zone.tz;
        let (d0, d1) = (
            from.to_zoned(tz.clone()).date(),
            to.to_zoned(tz.clone()).date(),
        );
        let period: i64 = if self.weekday().is_some() { 7 } else { 1 };
        let offset = |d: Date| -> i64 {
            self.weekday()
                .map_or(0, |w| i64::from(d.weekday().until(w)))
        };
        let days = |a: Date, b: Date| a.duration_until(b).as_secs() / 86_400;
        // First hand-off date on or after d0, last on or before d1.
        let Ok(first) = d0.checked_add(jiff::Span::new().days(offset(d0))) else {
            return 0;
        };
        let back = (period - offset(d1)) % period;
        let Ok(last) = d1.checked_sub(jiff::Span::new().days(back)) else {
            return 0;
        };
        if first > last {
            return 0;
        }
        let mut count = days(first, last) / period + 1;
        if self.handoff_at(first).is_none_or(|h| h <= from) {
            count -= 1;
        }
        if count > 0 && self.handoff_at(last).is_none_or(|h| h > to) {
            count -= 1;
        }
        count.max(0)
    }
}
