//! A fixed delay per channel: keeps the dry (unprocessed and bypassed) path aligned with the
//! chain's latency, so toggling a bypass never shifts the audio in time.

/// A multichannel delay line of a fixed number of samples, set in `prepare`.
#[derive(Debug, Clone, Default)]
pub struct DelayLine {
    /// One circular buffer per channel, each `delay_samples` long.
    buffers: Vec<Vec<f32>>,
    /// Delay in samples.
    delay_samples: usize,
    /// Next position to read (and then write) in every buffer.
    position: usize,
}

impl DelayLine {
    /// Allocates `channels` buffers of `delay_samples` samples (may allocate: call off the audio
    /// thread).
    pub fn new(channels: usize, delay_samples: usize) -> Self {
        Self { buffers: vec![vec![0.0; delay_samples]; channels], delay_samples, position: 0 }
    }

    /// The delay in samples.
    pub fn delay_samples(&self) -> usize {
        self.delay_samples
    }

    /// Clears the stored audio.
    pub fn reset(&mut self) {
        self.buffers.iter_mut().for_each(|buffer| buffer.fill(0.0));
        self.position = 0;
    }

    /// Delays every channel in place. Channels beyond those prepared are left untouched.
    pub fn process(&mut self, channels: &mut [&mut [f32]]) {
        if self.delay_samples == 0 {
            return;
        }
        let frames = channels.first().map_or(0, |channel| channel.len());
        let start = self.position;
        for (channel, buffer) in channels.iter_mut().zip(self.buffers.iter_mut()) {
            let mut position = start;
            for sample in channel.iter_mut() {
                std::mem::swap(sample, &mut buffer[position]);
                position += 1;
                if position == self.delay_samples {
                    position = 0;
                }
            }
        }
        self.position = (start + frames) % self.delay_samples;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impulse_comes_out_after_exactly_the_delay_for_any_partition() {
        for delay in [0usize, 1, 5, 64, 100] {
            for block in [1usize, 3, 64, 1000] {
                let mut line = DelayLine::new(2, delay);
                let mut left = vec![0.0f32; 300];
                left[7] = 1.0;
                let mut right = left.clone();
                right[7] = -0.5;
                for start in (0..300).step_by(block) {
                    let end = (start + block).min(300);
                    line.process(&mut [&mut left[start..end], &mut right[start..end]]);
                }
                let peak = left.iter().position(|&x| x == 1.0).unwrap();
                assert_eq!(peak, 7 + delay, "delay {delay}, block {block}");
                assert_eq!(right[7 + delay], -0.5);
                assert_eq!(left.iter().filter(|&&x| x != 0.0).count(), 1);
            }
        }
    }
}
