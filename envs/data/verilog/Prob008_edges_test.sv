module tb;
  reg clk = 0;
  reg reset, in;
  wire rise_ref, fall_ref, rise_top, fall_top;
  integer seed = 808, i, samples = 0, mismatches = 0;

  RefModule ref_i (.clk(clk), .reset(reset), .in(in), .rise(rise_ref), .fall(fall_ref));
  TopModule top_i (.clk(clk), .reset(reset), .in(in), .rise(rise_top), .fall(fall_top));

  always #5 clk = ~clk;

  initial begin
    reset = 1;
    in = 1;
    repeat (2) @(negedge clk);
    for (i = 0; i < 300; i = i + 1) begin
      reset = ($random(seed) & 15) == 0;
      if (i % 40 < 20)
        in = $random(seed);
      else if (($random(seed) & 3) == 0)
        in = ~in;
      @(negedge clk);
      samples = samples + 1;
      if ({rise_ref, fall_ref} !== {rise_top, fall_top}) mismatches = mismatches + 1;
    end
    $display("Mismatches: %0d in %0d samples", mismatches, samples);
    $finish;
  end

  initial begin
    #100000;
    $display("TIMEOUT");
    $finish;
  end
endmodule
