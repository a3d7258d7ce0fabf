module tb;
  reg [1:0] sel;
  reg [7:0] a, b, c, d;
  wire [7:0] y_ref, y_top;
  integer seed = 101, i, samples = 0, mismatches = 0;

  RefModule ref_i (.sel(sel), .a(a), .b(b), .c(c), .d(d), .y(y_ref));
  TopModule top_i (.sel(sel), .a(a), .b(b), .c(c), .d(d), .y(y_top));

  task check;
    begin
      #1;
      samples = samples + 1;
      if (y_ref !== y_top) mismatches = mismatches + 1;
    end
  endtask

  initial begin
    a = 8'h11; b = 8'h22; c = 8'h44; d = 8'h88;
    for (i = 0; i < 4; i = i + 1) begin
      sel = i;
      check;
    end
    for (i = 0; i < 200; i = i + 1) begin
      sel = $random(seed);
      a = $random(seed);
      b = $random(seed);
      c = $random(seed);
      d = $random(seed);
      check;
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
