/** A bar with the ARIA a screen reader and a test read: its name, value, maximum and words. */

interface Props {
  /** The accessible name, e.g. `Objects`. */
  label: string;
  value: number;
  max: number;
  /** What a screen reader says and the page shows, e.g. `120 of 300 objects (40%)`. */
  text: string;
  /** A mark on the bar, in percent of max (the fleet's fill limit). */
  mark?: number;
  /** Past the mark, or otherwise worth a look: drawn in the warning colour. */
  warn?: boolean;
}

export function ProgressBar({ label, value, max, text, mark, warn }: Props) {
  const fill = max > 0 ? Math.min(100, Math.max(0, (value / max) * 100)) : 0;
  return (
    <div class="bar-row">
      <div
        class={warn ? 'bar warn' : 'bar'}
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={max}
        aria-valuenow={value}
        aria-valuetext={text}
      >
        <div class="bar-fill" style={{ width: `${fill}%` }} />
        {mark === undefined ? null : <div class="bar-mark" style={{ left: `${mark}%` }} />}
      </div>
      <span class="bar-text" aria-hidden="true">
        {text}
      </span>
    </div>
  );
}
