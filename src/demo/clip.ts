/**
 * The demo's clip: a dark street-like scene with lettered signs (for text recognition) and
 * coloured objects that move (for motion detection), made by the bundled ffmpeg.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ffmpegPath } from '../runtime/ffmpeg-binary.ts';

const require = createRequire(import.meta.url);

/** A sign in the clip: its words, where it stands, and from when it is shown. */
export interface Sign {
  text: string;
  x: number;
  y: number;
  fontSize: number;
  /** Seconds into the clip at which the sign appears (0: from the start). */
  fromSec: number;
}

export const CLIP = { width: 640, height: 360, fps: 10, seconds: 8 } as const;

/**
 * Large dark letters on white, as the OCR test draws them (≥ 40 px DejaVu, black on white),
 * which the PP-OCRv4 models read at ≥ 90 % character accuracy. Words are short and upper-case
 * with digits, so character-level errors stay rare and are easy to spot.
 */
export const SIGNS: readonly Sign[] = [
  { text: 'EXIT 12', x: 40, y: 36, fontSize: 48, fromSec: 0 },
  { text: 'SLOW', x: 420, y: 36, fontSize: 48, fromSec: 0 },
  { text: 'GATE B', x: 60, y: 150, fontSize: 48, fromSec: 2 },
  { text: 'BUS 42', x: 380, y: 150, fontSize: 48, fromSec: 4 },
];

/** Padding of the light rectangle around a sign's letters, px. */
const PAD = 14;

/** The font file, from the `dejavu-fonts-ttf` npm package: the demo needs no system fonts. */
export function fontFile(): string {
  return require.resolve('dejavu-fonts-ttf/ttf/DejaVuSans.ttf');
}

/** ffmpeg's filter graph for the scene: background, moving objects, then the signs over them. */
export function sceneFilter(fontName: string): string {
  const { width: W, height: H, fps, seconds } = CLIP;
  // Dark stripes on each object: frame differencing (the motion plugin) sees a solid block
  // change only at its edges; stripes make the whole object change when it moves.
  const striped = (name: string, colour: string, stripe: string, w: number, h: number) =>
    `color=c=${colour}:s=${w}x${h}:r=${fps}:d=${seconds},drawgrid=w=14:h=${h}:t=5:c=${stripe}[${name}]`;
  // Objects move with t (overlay re-evaluates x/y per frame), low in the picture so they never
  // cover a sign. Nothing moves between 3.5 s and 4.5 s, so motion detection reports separate
  // events: a red "car" crosses and a cyan "person" walks until 3.5 s (then stands still), a
  // yellow "bike" crosses the other way from 4.5 s.
  const parts = [
    `color=c=0x2c3e50:s=${W}x${H}:r=${fps}:d=${seconds},drawbox=x=0:y=280:w=${W}:h=70:c=0x3d4f60:t=fill[bg]`,
    striped('car', '0xe74c3c', '0x7b1f16', 110, 50),
    striped('bike', '0xf1c40f', '0x806200', 60, 40),
    striped('person', '0x1abc9c', '0x0b5345', 30, 60),
    `[bg][car]overlay=x='-110+t*${Math.round((W + 110) / 3.5)}':y=290:shortest=1[a]`,
    `[a][bike]overlay=x='if(lt(t,4.5),${W},${W}-(t-4.5)*${Math.round((W + 60) / (seconds - 4.5))})':y=235:shortest=1[b]`,
    `[b][person]overlay=x='60+min(t,3.5)*60':y=${H - 136}:shortest=1[c]`,
  ];
  // Each sign: a light rectangle sized from the text (drawtext's own box), letters in near-black.
  const signs = SIGNS.map((s) => {
    const enable = s.fromSec > 0 ? `:enable='gte(t,${s.fromSec})'` : '';
    return `drawtext=fontfile=${fontName}:text='${s.text}':fontsize=${s.fontSize}:fontcolor=0x111111:x=${s.x}:y=${s.y}` +
      `:box=1:boxcolor=0xf4f4f4:boxborderw=${PAD}${enable}`;
  });
  parts.push(`[c]${signs.join(',')}[out]`);
  return parts.join(';');
}

/**
 * Writes the clip (H.264 MP4). Async so that a Ctrl-C during the encode can stop ffmpeg:
 * `signal` aborts it. ffmpeg runs in the font's folder so the filter names the font by its
 * bare file name: a path with ':' or quotes would need filter-graph escaping.
 */
export function makeDemoClip(file: string, signal?: AbortSignal): Promise<void> {
  const font = fontFile();
  const args = ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', '-filter_complex', sceneFilter(path.basename(font)), '-map', '[out]',
    '-t', String(CLIP.seconds), '-c:v', 'libx264', '-preset', 'veryfast', '-g', String(CLIP.fps), '-pix_fmt', 'yuv420p', path.resolve(file)];
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpegPath(), args, { cwd: path.dirname(font), stdio: ['ignore', 'ignore', 'pipe'], signal });
    let err = '';
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.once('error', (e) => reject(new Error(`ffmpeg could not make the demo clip: ${e.message}`)));
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg could not make the demo clip (exit ${code}): ${err.trim()}`))));
  });
}
