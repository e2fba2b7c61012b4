// Read an .ics from stdin with ical.js (Mozilla's iCalendar library, behind Thunderbird
// and Nextcloud Calendar) and print each event's UID and UTC start as JSON:
//   {"events": [{"uid": "...", "start": "2027-06-03T16:00:00Z"}, ...], "local": {}}
// As Thunderbird does, the file's own VTIMEZONE components are registered with
// ICAL.TimezoneService before any time is read, so a DTSTART;TZID=... is converted with
// the zone the file carries (ical.js resolves a TZID when the value is decoded).
// An all-day start (VALUE=DATE) is printed as its date, "2027-06-03".
//
//   node read.mjs [TZID WALL|SECONDS...] < calendar.ics
// also reads each local wall time in the file's zone TZID as DTSTART;TZID=TZID would be
// read ("utc": {"2026-03-29T03:30:00": "2026-03-29T01:30:00Z"}) and turns each instant
// (seconds since 1970) into local time ("local": {"1774747800": "2026-03-29T03:30:00"}).
import ICAL from "ical.js";

let text = "";
process.stdin.setEncoding("utf8");
for await (const chunk of process.stdin) text += chunk;

const vcalendar = new ICAL.Component(ICAL.parse(text));
for (const vtimezone of vcalendar.getAllSubcomponents("vtimezone")) {
  ICAL.TimezoneService.register(new ICAL.Timezone(vtimezone));
}
const utc = (time) => new Date(time.toUnixTime() * 1000).toISOString().replace(".000Z", "Z");

const events = [];
for (const vevent of vcalendar.getAllSubcomponents("vevent")) {
  const event = new ICAL.Event(vevent);
  const tzid = vevent.getFirstProperty("dtstart").getParameter("tzid");
  if (tzid && !ICAL.TimezoneService.has(tzid)) throw new Error(`no VTIMEZONE for TZID ${tzid}`);
  const start = event.startDate;
  events.push({ uid: event.uid, start: start.isDate ? start.toString() : utc(start) });
}

const local = {};
const utcOf = {};
const [tzid, ...args] = process.argv.slice(2);
if (tzid) {
  const zone = ICAL.TimezoneService.get(tzid);
  if (!zone) throw new Error(`no VTIMEZONE for TZID ${tzid}`);
  for (const arg of args) {
    if (arg.includes("T")) {  // a wall time in the zone, as a DTSTART;TZID= holds it
      const [year, month, day, hour, minute, second] = arg.split(/[-T:]/).map(Number);
      utcOf[arg] = utc(ICAL.Time.fromData({ year, month, day, hour, minute, second }, zone));
    } else {  // an instant; note that ical.js turns UTC into local time by the offset
      // at the UTC wall time read as local, so this is an hour off around a change
      const time = new ICAL.Time();
      time.fromUnixTime(Number(arg));
      local[arg] = time.convertToZone(zone).toString();
    }
  }
}
process.stdout.write(JSON.stringify({ events, local, utc: utcOf }) + "\n");
