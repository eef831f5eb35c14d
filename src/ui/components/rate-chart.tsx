/**
 * Objects/s and bytes/s over a job's life (uPlot, from `/jobs/:uuid/history`): two scales, the
 * bytes line dashed so the two read apart without colour. The chart is made once and given
 * new data on each poll; a screen reader gets the latest rates in the caption instead.
 */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import type { JobHistory } from '../../api/console.ts';
import { bytes, rate } from '../format.ts';

const HEIGHT = 220;
const OBJECTS_COLOUR = '#1d4f9c';
const BYTES_COLOUR = '#8a4500';

function chartData(samples: JobHistory['samples']): uPlot.AlignedData {
  return [
    samples.map((s) => Date.parse(s.at) / 1000),
    samples.map((s) => s.objects_per_second),
    samples.map((s) => s.bytes_per_second),
  ];
}

function options(width: number): uPlot.Options {
  return {
    width,
    height: HEIGHT,
    series: [
      {},
      {
        label: 'Objects/s',
        scale: 'objects',
        stroke: OBJECTS_COLOUR,
        width: 2,
        value: (_u, v) => (v == null ? '—' : rate(v)),
      },
      {
        label: 'Bytes/s',
        scale: 'bytes',
        stroke: BYTES_COLOUR,
        width: 2,
        dash: [6, 4],
        value: (_u, v) => (v == null ? '—' : `${bytes(v)}/s`),
      },
    ],
    scales: {
      // One sample would otherwise span years: a minute around it.
      x: { time: true, range: (_u, min, max) => (min === max ? [min - 30, max + 30] : [min, max]) },
      objects: { range: (_u, _min, max) => [0, Math.max(1, max)] },
      bytes: { range: (_u, _min, max) => [0, Math.max(1024, max)] },
    },
    axes: [
      {},
      { scale: 'objects', stroke: OBJECTS_COLOUR, values: (_u, ticks) => ticks.map(rate) },
      {
        scale: 'bytes',
        side: 1,
        stroke: BYTES_COLOUR,
        grid: { show: false },
        size: 70,
        values: (_u, ticks) => ticks.map((t) => `${bytes(t)}/s`),
      },
    ],
  };
}

export function RateChart({ samples }: { samples: JobHistory['samples'] }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    const el = box.current;
    if (el === null) return;
    const chart = new uPlot(options(Math.max(300, el.clientWidth)), chartData([]), el);
    plot.current = chart;
    const resize = new ResizeObserver(() =>
      chart.setSize({ width: Math.max(300, el.clientWidth), height: HEIGHT }),
    );
    resize.observe(el);
    return () => {
      resize.disconnect();
      chart.destroy();
      plot.current = null;
    };
  }, []);

  useEffect(() => {
    plot.current?.setData(chartData(samples));
  }, [samples]);

  const last = samples.at(-1);
  return (
    <figure class="chart">
      <figcaption>
        Throughput over the job’s life
        {last ? (
          <span class="sub">
            {' '}
            (now {rate(last.objects_per_second)} objects/s, {bytes(last.bytes_per_second)}/s)
          </span>
        ) : (
          <span class="sub"> (no samples yet)</span>
        )}
      </figcaption>
      <div ref={box} class="chart-box" data-testid="rate-chart" data-points={samples.length} />
    </figure>
  );
}
